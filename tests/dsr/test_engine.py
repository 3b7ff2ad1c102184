"""The request engine, run in-process: intake, lifecycle, planning, execution, results."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Address, User
from dsr import engine, packages
from dsr.erasure import erasure_record_valid
from dsr.models import (
    DataStore,
    DataSubjectRequest,
    ErasureRecord,
    ExportPackage,
    IdentityMethod,
    State,
    StoreTask,
    TaskState,
)
from dsr.services import (
    TransitionError,
    VerificationError,
    dsr_request_approve,
    dsr_request_cancel,
    dsr_request_extend,
    dsr_request_reject,
    dsr_request_verify_email,
    dsr_request_verify_manually,
    dsr_task_retry,
)
from privacy_portal import crypto
from privacy_portal.audit.models import AuditEvent
from privacy_portal.audit.selectors import audit_chain_verify
from tests.dsr.helpers import (
    add_store,
    all_text,
    answer_without_failed,
    file_request,
    manifest,
    open_package,
    read_part_file,
    run_pending_tasks,
)
from tests.factories import AddressFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_access_request_returns_the_customers_data_and_nothing_of_anyone_else(customer):
    AddressFactory(user=customer, line1="1 Alice Road", is_default_shipping=True)
    other = UserFactory(email="bob.other@example.com", first_name="Bob")
    AddressFactory(user=other, line1="99 Bob Street")

    request = file_request(type="access", user=customer)
    assert request.state == State.RUNNING  # verified by the session, approved automatically
    assert re.fullmatch(r"DSR-\d{4}-\d{6}", request.reference)
    request = run_pending_tasks(request)

    assert request.state == State.COMPLETED
    archive = open_package(request)
    names = set(archive.namelist())
    assert {
        "index.html",
        "manifest.json",
        "data-dictionary.json",
        "stores/portal/account.json",
        "stores/portal/account.csv",
        "stores/portal/addresses.json",
        "stores/portal/addresses.csv",
    } <= names
    text = all_text(archive)
    assert customer.email in text and "1 Alice Road" in text
    assert "bob.other@example.com" not in text and "99 Bob Street" not in text
    # The manifest lists every other file with its true checksum and size.
    listed = {entry["path"]: entry for entry in manifest(archive)["files"]}
    assert set(listed) == names - {"manifest.json"}
    for path, entry in listed.items():
        content = archive.read(path)
        assert (
            hashlib.sha256(content).hexdigest() == entry["sha256"]
            and len(content) == entry["bytes"]
        )
    assert (
        "GDPR" in archive.read("index.html").decode()
        or "supervisory" in archive.read("index.html").decode()
    )


def test_the_cover_letter_says_which_systems_were_not_searched_instead_of_nothing(
    customer, settings
):
    """A recipient told of requests (no copy asked of it) holds data all the same: "nothing"
    would tell the person it holds none."""
    add_store(
        "crm",
        "tests.dsr.connectors.FlakyConnector",
        name="Group CRM",
        config={"actions": ["notify"]},
        position=90,
    )
    request = run_pending_tasks(file_request(type="access", user=customer))
    letter = open_package(request).read("index.html").decode()
    row = letter.split("<strong>Group CRM</strong>")[1].split("</tr>")[0]
    assert "Not in this copy: this system cannot be searched from here." in row
    assert settings.PORTAL_PRIVACY_EMAIL in row and "nothing" not in row
    # The records are named as the person reads them, not as the files are.
    portal = letter.split("</strong>")[1].split("</tr>")[0]
    read = re.sub(r"<[^>]+>", "", portal)  # the files' names are in the links only
    assert "e-mail addresses: 1" in read and "email_addresses" not in read


def test_the_package_copies_the_parts_deflated_bytes_and_their_checksums_hold(customer):
    AddressFactory(user=customer, line1="1 Alice Road")
    request = run_pending_tasks(file_request(type="access", user=customer))
    archive = open_package(request)
    assert archive.testzip() is None  # every member's CRC-32 matches its bytes
    addresses = archive.getinfo("stores/portal/addresses.json")
    assert addresses.compress_type == zipfile.ZIP_DEFLATED
    assert addresses.compress_size < addresses.file_size
    assert "1 Alice Road" in archive.read("stores/portal/addresses.json").decode()


def test_a_part_written_before_parts_were_deflated_still_goes_into_the_package(customer):
    """A request exporting while the portal is upgraded: its part is plain encrypted bytes."""
    AddressFactory(user=customer, line1="1 Alice Road")
    request = file_request(type="access", user=customer)
    for task in request.tasks.all():
        engine.task_run(task.pk)
    key = ExportPackage.objects.get(request=request).key()
    part = packages.storage_dir() / "work" / str(request.pk) / "portal"
    for path in part.glob("**/*.enc"):
        if path.name == "meta.json.enc":
            meta = json.loads(b"".join(packages._read_encrypted(path, key)))
            for item in [*meta["entities"], *meta["files"]]:
                item.pop("zip", None)
            plain = json.dumps(meta).encode()
        else:
            plain = read_part_file(path, key)
        with path.open("wb") as raw, crypto.EncryptingWriter(raw, key) as out:
            out.write(plain)

    packages.package_build(request.pk)
    engine.request_advance(request.pk)

    archive = open_package(request)
    assert archive.testzip() is None
    assert "1 Alice Road" in archive.read("stores/portal/addresses.json").decode()
    listed = {entry["path"]: entry for entry in manifest(archive)["files"]}
    content = archive.read("stores/portal/addresses.csv")
    assert hashlib.sha256(content).hexdigest() == listed["stores/portal/addresses.csv"]["sha256"]
    # The cover letter links each table it lists to its files, which are there.
    cover = archive.read("index.html").decode()
    linked = set(re.findall(r'href="(stores/[^"]+)"', cover))
    assert {"stores/portal/addresses.csv", "stores/portal/addresses.json"} <= linked
    assert linked <= set(archive.namelist()) and "<main>" in cover


def test_the_package_is_encrypted_at_rest(customer, settings):
    AddressFactory(user=customer, line1="1 Alice Road")
    request = run_pending_tasks(file_request(type="access", user=customer))
    package = ExportPackage.objects.get(request=request)
    raw = (settings.DSR_STORAGE_DIR / package.storage_name).read_bytes()
    assert raw.startswith(b"IPP1")
    assert b"PK\x03\x04" not in raw and customer.email.encode() not in raw


def test_an_erasure_destroys_a_copy_not_yet_made_and_the_request_says_why(
    customer, compliance_user, django_capture_on_commit_callbacks
):
    AddressFactory(user=customer, line1="1 Alice Road")
    access = file_request(type="access", user=customer)  # its exports not run yet
    erasure = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=compliance_user
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert run_pending_tasks(erasure).state == State.COMPLETED
    assert ExportPackage.objects.get(request=access).purged_at is not None

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        access = run_pending_tasks(access)
    assert (access.state, access.outcome) == (State.COMPLETED, "copy_erased")
    package = ExportPackage.objects.get(request=access)
    assert package.built_at is None and package.storage_name == ""
    assert not packages._work_dir(access.pk).exists()
    (done,) = [m for m in mail.outbox if access.reference in m.body]
    assert "the copy was destroyed too" in done.body


def test_a_copy_whose_erasure_comes_while_it_is_built_is_not_kept(
    customer, compliance_user, django_capture_on_commit_callbacks, monkeypatch, settings
):
    AddressFactory(user=customer, line1="1 Alice Road")
    access = file_request(type="access", user=customer)
    folder = settings.DSR_STORAGE_DIR / "packages"
    before = set(folder.glob("*")) if folder.exists() else set()
    cover_letter = packages._cover_letter

    def erased_meanwhile(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            packages.packages_purge(
                ExportPackage.objects.none(), {"request__subject_key": access.subject_key}
            )
        return cover_letter(*args, **kwargs)

    monkeypatch.setattr(packages, "_cover_letter", erased_meanwhile)
    with django_capture_on_commit_callbacks(execute=True):
        access = run_pending_tasks(access)

    assert (access.state, access.outcome) == (State.COMPLETED, "copy_erased")
    assert set(folder.glob("*")) == before  # the file written is gone too
    assert not packages._work_dir(access.pk).exists()
    assert not AuditEvent.objects.filter(action="dsr.package.built").exists()


def test_an_erasure_needs_approval_then_deletes_and_keeps_proof(customer, compliance_user):
    AddressFactory(user=customer)
    request = file_request(type="erasure", user=customer)
    assert request.state == State.IN_REVIEW and request.identity_method == "session_reauth"

    request = dsr_request_approve(request=request, actor=compliance_user)
    request = run_pending_tasks(request)

    assert request.state == State.COMPLETED
    assert not User.objects.filter(pk=customer.pk).exists()
    assert not Address.objects.filter(user_id=customer.pk).exists()
    receipt = request.tasks.get().receipt
    assert receipt["deleted"]["account"] == 1 and receipt["deleted"]["addresses"] == 1
    assert receipt["retained"][0]["entity"] == "privacy_requests"
    assert all(count == 0 for count in receipt["remaining"].values())
    record = ErasureRecord.objects.get(reference=request.reference)
    assert erasure_record_valid(record)
    assert customer.email not in str(record.identity_hashes) + str(record.receipts)
    request.refresh_from_db()
    assert request.snapshot() == {}  # the identities are no longer needed


def test_a_request_recorded_by_staff_reaches_the_account_with_that_verified_address(
    customer, support_user, compliance_user
):
    AddressFactory(user=customer, line1="1 Alice Road")
    unverified = UserFactory(email="not.proven@example.com", verified=False)
    AddressFactory(user=unverified, line1="5 Unproven Lane")
    staff = {"channel": "phone", "actor": support_user, "identity_method": "staff_document"}
    access = file_request(
        type="access", email=customer.email.upper(), identity_note="Passport seen", **staff
    )
    assert access.user == customer  # staff checked who the caller is: hers, in her account
    text = all_text(open_package(run_pending_tasks(access)))
    assert customer.email in text and "1 Alice Road" in text

    # An account whose address was never proven is not tied to a request by address alone.
    other = file_request(
        type="access", email="not.proven@example.com", identity_note="Called back", **staff
    )
    assert other.user is None
    assert "5 Unproven Lane" not in all_text(open_package(run_pending_tasks(other)))

    erasure = file_request(
        type="erasure", email=customer.email, identity_note="Passport seen", **staff
    )
    run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user))
    assert not User.objects.filter(pk=customer.pk).exists()
    assert not Address.objects.filter(user_id=customer.pk).exists()


def test_a_second_open_request_of_the_same_type_is_linked_as_a_duplicate(customer):
    first = file_request(type="erasure", user=customer)
    second = file_request(type="erasure", user=customer)
    assert second.state == State.DUPLICATE and second.duplicate_of_id == first.pk
    # A different type is its own request.
    access = file_request(type="access", user=customer)
    assert access.state != State.DUPLICATE
    # Purposes ticked with a type that has none (a form sent without its script, staff's form)
    # do not make a second copy of the same data.
    again = file_request(type="access", user=customer, purposes=("marketing_email",))
    assert again.state == State.DUPLICATE and again.duplicate_of_id == access.pk
    assert again.purposes == [] and access.purposes == []


def test_a_request_nobody_confirmed_does_not_hold_back_a_new_one(customer):
    """Anyone may type a customer's address into the guest form and never confirm: the
    customer's own request (here the erasure of an account closure) must not be linked to that
    one and close unverified with it. A guest who files again gets a link that works."""
    from dsr.services import dsr_request_open_for_closure

    stranger = file_request(
        type="erasure", email=customer.email, channel="portal_guest", actor=None
    )
    assert stranger.state == State.AWAITING_IDENTITY

    closure = dsr_request_open_for_closure(user=customer, actor=customer)
    assert closure.state not in (State.DUPLICATE, State.AWAITING_IDENTITY)
    assert closure.identity_method == IdentityMethod.SESSION_REAUTH
    stranger.refresh_from_db()
    assert stranger.state == State.DUPLICATE and stranger.duplicate_of_id == closure.pk
    assert not stranger.subject_snapshot
    with pytest.raises(VerificationError, match="newer request"):
        dsr_request_verify_email(
            request_id=stranger.pk, nonce=stranger.verification_nonce, order_number=""
        )
    changes = AuditEvent.objects.filter(
        object_id=str(stranger.pk), action="dsr.request.state_changed"
    )
    assert changes.filter(reason="superseded_by_newer_request").count() == 1

    first = file_request(type="access", email="lost.link@example.com", channel="portal_guest")
    second = file_request(type="access", email="lost.link@example.com", channel="portal_guest")
    assert second.state == State.AWAITING_IDENTITY
    first.refresh_from_db()
    assert first.state == State.DUPLICATE and first.duplicate_of_id == second.pk
    confirmed = dsr_request_verify_email(
        request_id=second.pk, nonce=second.verification_nonce, order_number=""
    )
    assert confirmed.state == State.IN_REVIEW
    # A request already confirmed still takes the newer one as its duplicate.
    assert file_request(
        type="access", email="lost.link@example.com", channel="portal_guest"
    ).state == (State.DUPLICATE)


def test_the_database_refuses_two_open_requests_of_a_type_for_one_person(customer, postgres):
    from django.db import IntegrityError, transaction

    first = file_request(type="erasure", user=customer)
    clone = DataSubjectRequest.objects.get(pk=first.pk)
    clone.pk = None
    clone.reference = "DSR-CLONE"
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


def test_a_guest_confirms_by_link_and_the_order_number_decides_who_reviews(
    django_capture_on_commit_callbacks, compliance_user
):
    with django_capture_on_commit_callbacks(execute=True):
        request = file_request(type="access", email="Guest@Example.com", channel="portal_guest")
    assert request.state == State.AWAITING_IDENTITY
    assert request.email == "guest@example.com" and request.knowledge_required
    link = next(m for m in mail.outbox if "confirm" in m.subject.lower())
    assert "/requests/verify/" in link.body

    with pytest.raises(VerificationError):
        dsr_request_verify_email(request_id=request.pk, nonce="forged")
    request = dsr_request_verify_email(
        request_id=request.pk, nonce=request.verification_nonce, order_number="NOPE-1"
    )
    # No store could match the order number: an officer must check the identity by hand.
    assert request.state == State.IN_REVIEW and request.held_reason == "identity_needs_review"
    with pytest.raises(VerificationError):  # single use
        dsr_request_verify_email(request_id=request.pk, nonce="", order_number="NOPE-1")
    with pytest.raises(TransitionError):
        dsr_request_approve(request=request, actor=compliance_user)

    request = dsr_request_verify_manually(
        request=request,
        actor=compliance_user,
        method=IdentityMethod.STAFF_CALLBACK,
        note="Called back the number on the order",
    )
    # Its identity established, an access request is approved as the settings say.
    assert request.approved_at is not None and request.approved_by is None
    request = run_pending_tasks(request)
    assert request.state == State.COMPLETED and request.outcome == "no_data_found"


def test_staff_cannot_skip_verification_without_saying_how_identity_was_checked(support_user):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        file_request(
            type="erasure",
            email="caller@example.com",
            channel="phone",
            actor=support_user,
            identity_method=IdentityMethod.STAFF_CALLBACK,
        )
    request = file_request(
        type="erasure", email="caller@example.com", channel="phone", actor=support_user
    )
    assert request.state == State.AWAITING_IDENTITY  # the e-mail link decides
    request = file_request(
        type="access",
        email="caller2@example.com",
        channel="phone",
        actor=support_user,
        identity_method=IdentityMethod.STAFF_CALLBACK,
        identity_note="Called back +49 number on file",
    )
    assert request.identity_method == IdentityMethod.STAFF_CALLBACK
    assert request.recorded_by == support_user


@pytest.mark.parametrize("note", ["\u200b\u2060\u00a0\u202f\u2028\ufeff ", "x", "ok.", "-- --"])
def test_a_note_that_says_nothing_does_not_record_an_identity_check(
    support_user, compliance_user, note
):
    """Invisible characters, a mark or a single word: not a record of what was checked."""
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Say in a few words how you checked"):
        file_request(
            type="access",
            email="caller@example.com",
            channel="phone",
            actor=support_user,
            identity_method=IdentityMethod.STAFF_CALLBACK,
            identity_note=note,
        )
    request = file_request(type="access", email="caller@example.com", channel="phone")
    with pytest.raises(ValidationError, match="Say in a few words how you checked"):
        dsr_request_verify_manually(
            request=request,
            actor=compliance_user,
            method=IdentityMethod.STAFF_DOCUMENT,
            note=note,
        )
    request.refresh_from_db()
    assert request.verified_at is None and request.state == State.AWAITING_IDENTITY


def test_staff_do_not_record_check_or_approve_a_request_about_themselves(
    support_user, compliance_user
):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="ask a colleague"):
        file_request(
            type="access",
            email=support_user.email.upper(),
            channel="phone",
            actor=support_user,
            identity_method=IdentityMethod.STAFF_CALLBACK,
            identity_note="Called back the number on file",
        )
    assert not DataSubjectRequest.objects.exists()
    # Filed as anyone files one, it is checked and approved by a colleague, not by themselves.
    own = file_request(type="access", email=compliance_user.email, channel="phone")
    with pytest.raises(ValidationError, match="ask a colleague"):
        dsr_request_verify_manually(
            request=own,
            actor=compliance_user,
            method=IdentityMethod.STAFF_DOCUMENT,
            note="Passport seen",
        )
    checked = dsr_request_verify_manually(
        request=own, actor=support_user, method=IdentityMethod.STAFF_DOCUMENT, note="Passport seen"
    )
    assert checked.state == State.IN_REVIEW
    with pytest.raises(TransitionError, match="ask a colleague"):
        dsr_request_approve(request=checked, actor=compliance_user)
    checked.refresh_from_db()
    assert checked.state == State.IN_REVIEW and checked.approved_at is None


def test_actions_the_state_does_not_allow_are_refused_and_change_nothing(customer, compliance_user):
    request = run_pending_tasks(file_request(type="access", user=customer))
    assert request.state == State.COMPLETED
    events = AuditEvent.objects.count()
    for action in (
        lambda: dsr_request_approve(request=request, actor=compliance_user),
        lambda: dsr_request_cancel(request=request, actor=customer),
        lambda: dsr_request_reject(
            request=request, actor=compliance_user, reason="other", note="x"
        ),
        lambda: dsr_request_extend(request=request, actor=compliance_user, reason="busy"),
    ):
        with pytest.raises(TransitionError):
            action()
    request.refresh_from_db()
    assert request.state == State.COMPLETED and AuditEvent.objects.count() == events


def test_extending_works_once_and_moves_the_deadline(
    customer, compliance_user, django_capture_on_commit_callbacks
):
    request = file_request(type="erasure", user=customer)
    before = request.due_at
    with django_capture_on_commit_callbacks(execute=True):
        request = dsr_request_extend(
            request=request, actor=compliance_user, reason="Our order archive is being migrated."
        )
    assert request.due_at > before
    assert any("Our order archive is being migrated." in m.body for m in mail.outbox)
    with pytest.raises(TransitionError, match="already extended"):
        dsr_request_extend(request=request, actor=compliance_user, reason="again")


def test_a_uk_deadline_resumes_when_staff_confirm_the_identity_instead_of_the_link(
    compliance_user,
):
    """Under the UK GDPR the clock stops while the person's identity is awaited; it starts
    again however the identity is confirmed, and the deadline moves by the pause."""
    request = file_request(
        type="restriction", email="uk.guest@example.com", channel="portal_guest", country="GB"
    )
    assert request.state == State.AWAITING_IDENTITY and request.clock_paused_at is not None
    first_due = request.due_at
    three_days_ago = timezone.now() - timedelta(days=3)
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        clock_paused_at=three_days_ago, verification_sent_at=three_days_ago
    )

    request = dsr_request_verify_manually(
        request=request,
        actor=compliance_user,
        method=IdentityMethod.STAFF_CALLBACK,
        note="Called back the number on file",
    )

    request.refresh_from_db()
    assert request.clock_paused_at is None
    assert abs(request.paused_seconds - 3 * 24 * 3600) < 60
    assert abs((request.due_at - first_due) - timedelta(days=3)) < timedelta(minutes=1)
    audited = AuditEvent.objects.filter(
        action="dsr.request.state_changed", after__state=State.VERIFIED
    ).latest("pk")
    assert audited.after["due_at"] == request.due_at.isoformat()


def test_officers_are_alerted_in_their_own_language(
    customer, compliance_user, django_capture_on_commit_callbacks
):
    from privacy_portal.permissions import COMPLIANCE_GROUP
    from tests.factories import StaffFactory

    german = StaffFactory(group=COMPLIANCE_GROUP, preferred_language="de")
    with django_capture_on_commit_callbacks(execute=True):
        request = file_request(type="erasure", user=customer)
    assert request.state == State.IN_REVIEW

    to_german = next(m for m in mail.outbox if m.to == [german.email])
    assert to_german.subject.endswith(f"{request.reference} wartet auf Genehmigung")
    assert "(Löschung) wartet auf Compliance-" in to_german.body
    to_english = next(m for m in mail.outbox if m.to == [compliance_user.email])
    assert to_english.subject.endswith(f"{request.reference} waits for approval")
    assert "(Erasure) waits for a compliance officer" in to_english.body


def test_rejection_tells_the_person_why_and_of_their_right_to_complain(
    customer, compliance_user, django_capture_on_commit_callbacks
):
    request = file_request(type="erasure", user=customer)
    with django_capture_on_commit_callbacks(execute=True):
        dsr_request_reject(request=request, actor=compliance_user, reason="legal_claims")
    letter = mail.outbox[-1]
    assert "legal claims" in letter.body and "supervisory authority" in letter.body


def test_a_store_that_keeps_failing_holds_the_answer_until_an_officer_decides(
    customer, compliance_user
):
    """Not answered in part while the step may still be retried: the officer retries it, or
    answers without it (partially completed), and a later retry still completes it."""
    add_store("flaky", "tests.dsr.connectors.FlakyConnector", config={"fail_times": 99})
    request = file_request(type="access", user=customer)
    flaky = request.tasks.get(store__key="flaky")
    flaky.max_attempts = 2
    flaky.save()

    request = run_pending_tasks(request)

    flaky.refresh_from_db()
    assert flaky.state == TaskState.FAILED and flaky.attempts == 2
    assert "down" in flaky.error
    assert request.state == State.WAITING and request.completed_at is None
    assert not ExportPackage.objects.filter(request=request, built_at__isnull=False).exists()
    assert not [m for m in mail.outbox if m.to == [customer.email] and "done" in m.subject]

    request = answer_without_failed(request)
    assert request.state == State.PARTIALLY_COMPLETED
    event = AuditEvent.objects.get(action="dsr.request.answered_without_failed")
    assert event.after == {"stores": [flaky.store_id]}
    assert request.tasks.get(store__key="portal").state == TaskState.SUCCEEDED
    assert open_package(request)  # what was found is delivered

    from django.core.cache import cache

    cache.set("flaky-calls-flaky", 100, 3600)  # the store is back
    dsr_task_retry(task=flaky, actor=compliance_user)
    request = run_pending_tasks(request)
    assert request.state == State.COMPLETED
    assert "stores/flaky/things.json" in open_package(request).namelist()


def test_retrying_a_failed_store_keeps_what_the_other_stores_gave_in_the_package(
    customer, compliance_user
):
    """The package built without the failed store is rebuilt after staff retry it: the new
    one adds that store's data to everything the first one held."""
    add_store("flaky", "tests.dsr.connectors.FlakyConnector", config={"fail_times": 99})
    request = file_request(type="access", user=customer)
    flaky = request.tasks.get(store__key="flaky")
    flaky.max_attempts = 1
    flaky.save()
    request = answer_without_failed(run_pending_tasks(request))
    assert request.state == State.PARTIALLY_COMPLETED
    first = open_package(request).namelist()
    assert "stores/portal/account.json" in first

    from django.core.cache import cache

    cache.set("flaky-calls-flaky", 100, 3600)  # the store is back
    dsr_task_retry(task=flaky, actor=compliance_user)
    request = run_pending_tasks(request)

    assert request.state == State.COMPLETED
    archive = open_package(request)
    assert set(first) - {"manifest.json"} <= set(archive.namelist())
    assert "stores/flaky/things.json" in archive.namelist()
    assert customer.email in archive.read("stores/portal/account.json").decode()
    assert set(manifest(archive)["sources"]) == {"portal", "flaky"}
    assert manifest(archive)["incomplete_sources"] == []


def test_the_parts_kept_for_a_retry_go_when_the_package_expires(
    customer, django_capture_on_commit_callbacks
):
    add_store("flaky", "tests.dsr.connectors.FlakyConnector", config={"fail_times": 99})
    request = file_request(type="access", user=customer)
    request.tasks.filter(store__key="flaky").update(max_attempts=1)
    request = answer_without_failed(run_pending_tasks(request))
    assert request.state == State.PARTIALLY_COMPLETED
    parts = packages._work_dir(request.pk)
    assert (parts / "portal" / "meta.json.enc").exists()

    later = timezone.now() + timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        assert packages.package_purge_expired(now=later) == [request.package.pk]

    assert not parts.exists()


def test_a_store_of_an_expired_copy_cannot_be_retried(
    customer, compliance_user, django_capture_on_commit_callbacks
):
    add_store("flaky", "tests.dsr.connectors.FlakyConnector", config={"fail_times": 99})
    request = file_request(type="access", user=customer)
    request.tasks.filter(store__key="flaky").update(max_attempts=1)
    request = answer_without_failed(run_pending_tasks(request))
    with django_capture_on_commit_callbacks(execute=True):
        packages.package_purge_expired(now=timezone.now() + timedelta(days=30))

    flaky = request.tasks.get(store__key="flaky")
    with pytest.raises(TransitionError, match="expired and was deleted"):
        dsr_task_retry(task=flaky, actor=compliance_user)
    flaky.refresh_from_db()
    request.refresh_from_db()
    assert flaky.state == TaskState.FAILED
    assert request.state == State.PARTIALLY_COMPLETED


def test_a_manual_store_makes_the_request_wait_for_staff(customer, compliance_user):
    from dsr.services import dsr_task_complete_manual

    add_store("payments", "tests.dsr.connectors.StaffStepConnector")
    request = file_request(type="erasure", user=customer)
    request = run_pending_tasks(dsr_request_approve(request=request, actor=compliance_user))
    assert request.state == State.WAITING
    step = request.tasks.get(store__key="payments")
    assert step.state == TaskState.WAITING and "Delete the person" in step.instructions

    dsr_task_complete_manual(task=step, actor=compliance_user, note="Deleted in the PSP portal")
    engine.request_advance(request.pk)
    request.refresh_from_db()
    assert request.state == State.COMPLETED
    step.refresh_from_db()
    assert step.completed_by == compliance_user


def test_the_reconciler_leaves_a_request_waiting_for_staff_alone_and_moves_a_stuck_one_on(
    customer, other_customer, compliance_user, settings
):
    """Waiting for a manual step is not stuck (the reconciler would lock and read it again every
    minute, for as long as staff take); a request whose last step ended without advancing it
    is."""
    add_store("payments", "tests.dsr.connectors.StaffStepConnector")
    waiting = file_request(type="erasure", user=customer)
    waiting = run_pending_tasks(dsr_request_approve(request=waiting, actor=compliance_user))
    lost = file_request(type="erasure", user=other_customer)
    lost = run_pending_tasks(dsr_request_approve(request=lost, actor=compliance_user))
    assert waiting.state == lost.state == State.WAITING
    # The step of the second one was done, but the message to advance it was lost.
    lost.tasks.filter(state=TaskState.WAITING).update(state=TaskState.SUCCEEDED)
    long_ago = timezone.now() - timedelta(seconds=settings.DSR_RECONCILE_SECONDS + 1)
    DataSubjectRequest.objects.update(updated_at=long_ago)

    assert engine.reconcile()["stuck"] == 1

    waiting.refresh_from_db()
    lost.refresh_from_db()
    assert waiting.state == State.WAITING and waiting.updated_at == long_ago
    assert lost.state == State.COMPLETED


def test_a_redelivered_task_changes_nothing(customer):
    request = file_request(type="access", user=customer)
    task = request.tasks.get()
    engine.task_run(task.pk)
    task.refresh_from_db()
    receipt, finished = task.receipt, task.finished_at
    engine.task_run(task.pk)  # the same message delivered again
    task.refresh_from_db()
    assert (task.state, task.attempts, task.receipt, task.finished_at) == (
        TaskState.SUCCEEDED,
        1,
        receipt,
        finished,
    )


class _Killed(BaseException):
    """A worker's death between the erasure and its receipt (nothing catches it)."""


def test_an_erasure_and_its_receipt_commit_together(
    customer, compliance_user, monkeypatch, django_capture_on_commit_callbacks
):
    AddressFactory(user=customer)
    request = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=compliance_user
    )
    task = request.tasks.get()
    record_result = engine._record_result

    def killed(*args, **kwargs):
        raise _Killed

    monkeypatch.setattr(engine, "_record_result", killed)
    with pytest.raises(_Killed):
        engine.task_run(task.pk)
    # Nothing was erased without its receipt: the account is still there, the task still
    # claimed, and it runs again once its lease has run out.
    assert User.objects.filter(pk=customer.pk).exists()
    task.refresh_from_db()
    assert (task.state, task.attempts) == (TaskState.RUNNING, 1)
    StoreTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now())
    monkeypatch.setattr(engine, "_record_result", record_result)
    with django_capture_on_commit_callbacks(execute=True):
        engine.task_run(task.pk)
    task.refresh_from_db()
    assert (task.state, task.attempts) == (TaskState.SUCCEEDED, 2)
    assert task.receipt["deleted"]["account"] == 1 and task.receipt["deleted"]["addresses"] == 1
    request.refresh_from_db()
    assert (request.state, request.outcome) == (State.COMPLETED, "done")
    assert not User.objects.filter(pk=customer.pk).exists()


def test_the_reconciler_picks_up_a_task_whose_worker_died(customer, settings):
    from datetime import timedelta

    from django.utils import timezone

    request = file_request(type="access", user=customer)
    task = request.tasks.get()
    StoreTask.objects.filter(pk=task.pk).update(
        state=TaskState.RUNNING, attempts=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    result = engine.reconcile()
    assert result["expired"] == 1
    task.refresh_from_db()
    assert task.state == TaskState.QUEUED
    # The move back to the queue is in the request's audit trail, with why.
    event = AuditEvent.objects.get(action="dsr.task.requeued", object_id=str(task.pk))
    assert event.scope == f"dsr.datasubjectrequest:{request.pk}"
    assert event.before == {"state": "running"} and event.after["state"] == "queued"
    assert event.reason == "lease_expired" and event.actor_type == "system"
    assert audit_chain_verify().ok


def test_a_task_that_kills_its_worker_every_time_fails_for_staff_after_its_attempts(
    customer, compliance_user, monkeypatch, django_capture_on_commit_callbacks
):
    """A store task that ends its worker each time (a hard time limit, out of memory) is
    re-queued by the reconciler once its lease runs out; the row's attempt cap still holds."""
    request = file_request(type="access", user=customer)
    task = request.tasks.get()
    runs = []

    def kills_the_worker(connector, task):
        runs.append(task.pk)
        raise _Killed

    monkeypatch.setattr(engine, "_call", kills_the_worker)
    for _ in range(task.max_attempts + 3):
        with contextlib.suppress(_Killed):
            engine.task_run(task.pk)  # the message redelivered, or re-sent by the reconciler
        StoreTask.objects.filter(pk=task.pk, state=TaskState.RUNNING).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        with django_capture_on_commit_callbacks(execute=True):
            engine.reconcile()

    assert len(runs) == task.max_attempts
    task.refresh_from_db()
    assert task.state == TaskState.FAILED and task.error_permanent
    assert f"Gave up after {task.max_attempts} attempts." in task.error
    assert any(m.to == [compliance_user.email] and request.reference in m.body for m in mail.outbox)
    request = run_pending_tasks(request)
    assert request.state == State.WAITING  # for the officer told of the failure
    # Staff can run it again once the cause is fixed.
    monkeypatch.undo()
    dsr_task_retry(task=task, actor=compliance_user)
    assert run_pending_tasks(request).state == State.COMPLETED


def test_cancelling_before_it_runs(customer):
    request = file_request(type="erasure", user=customer)
    request = dsr_request_cancel(request=request, actor=customer)
    assert request.state == State.CANCELLED
    assert not StoreTask.objects.filter(request=request).exists()


def test_every_step_is_audited_and_the_chain_holds(customer, compliance_user):
    request = file_request(type="erasure", user=customer)
    run_pending_tasks(dsr_request_approve(request=request, actor=compliance_user))
    states = [
        e.after["state"]
        for e in AuditEvent.objects.filter(
            action="dsr.request.state_changed", object_id=str(request.pk)
        ).order_by("seq")
    ]
    assert states == ["verified", "in_review", "approved", "running", "completed"]
    assert audit_chain_verify().ok


@pytest.mark.parametrize("kind", ["access", "erasure"])
def test_after_a_recent_credential_change_an_export_or_erasure_is_held(
    customer, support_user, compliance_user, kind, django_capture_on_commit_callbacks
):
    from accounts.services import account_record_credentials_change

    account_record_credentials_change(user=customer, action="account.password_changed")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        signed_in = file_request(type=kind, user=customer)
    assert signed_in.state == State.IN_REVIEW
    assert signed_in.held_reason == "credentials_recently_changed"
    held_mail = [m for m in mail.outbox if customer.email in m.to]
    assert held_mail and signed_in.reference in held_mail[-1].body
    # The officers read why, in a sentence of its own.
    officers = [m.body for m in mail.outbox if "waits for a compliance officer" in m.body]
    assert (
        officers
        and "It is held because the account's password or e-mail address changed" in (officers[-1])
    )
    assert not StoreTask.objects.filter(request=signed_in).exclude(state="queued").exists()

    # Filed without signing in, for the same verified address: held just the same.
    dsr_request_cancel(request=signed_in, actor=customer)
    by_address = file_request(
        type=kind,
        email=customer.email,
        channel="phone",
        actor=support_user,
        identity_method="staff_document",
        identity_note="Passport seen",
    )
    assert by_address.held_reason == "credentials_recently_changed"


def test_a_credential_change_long_ago_holds_nothing(customer, settings):
    from django.utils import timezone

    User.objects.filter(pk=customer.pk).update(
        credentials_changed_at=timezone.now()
        - timedelta(hours=settings.DSR_HOLD_AFTER_CREDENTIAL_CHANGE_HOURS + 1)
    )
    customer.refresh_from_db()
    request = file_request(type="access", user=customer)
    assert request.state == State.RUNNING and not request.held_reason


def test_the_acknowledgement_is_recorded_when_it_goes_out_and_not_when_it_failed(
    customer, monkeypatch, django_capture_on_commit_callbacks
):
    # The proof of the CCPA's acknowledgement within 10 business days of receipt.
    with django_capture_on_commit_callbacks(execute=True):
        request = file_request(type="erasure", user=customer)
    request.refresh_from_db()
    assert request.acknowledged_at is not None
    assert request.acknowledged_at - request.received_at < timedelta(minutes=1)
    assert any(request.reference in m.subject for m in mail.outbox if m.to == [customer.email])

    def undeliverable(**kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("privacy_portal.mail.send_email", undeliverable)
    with django_capture_on_commit_callbacks(execute=True):
        other = file_request(type="access", user=UserFactory())
    other.refresh_from_db()
    assert other.acknowledged_at is None


def test_a_store_that_cannot_find_the_person_gets_no_step_and_the_person_no_word_of_one(
    customer,
    support_user,
    compliance_user,
    compliance_client,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    """Google Analytics knows people only by their portal account: a guest without one gets
    no step there (staff could do nothing, and the person would read "done"); the officer's
    page says why it was not asked. A customer with an account gets the step."""
    add_store(
        "analytics",
        "dsr.connectors.manual.ManualConnector",
        name="Web analytics",
        identities=["customer_id"],
        config={"actions": ["erase"]},
    )
    staff = {"channel": "phone", "actor": support_user, "identity_method": "staff_document"}
    guest = file_request(
        type="erasure", email="no.account@example.com", identity_note="Passport seen", **staff
    )
    page = compliance_client.get(f"/dashboard/requests/{guest.reference}/").content.decode()
    assert "This store finds people only by Customer account, and none is known for this" in page
    with django_capture_on_commit_callbacks(execute=True):
        guest = run_pending_tasks(dsr_request_approve(request=guest, actor=compliance_user))
    assert guest.state == State.COMPLETED
    assert not guest.tasks.filter(store__key="analytics").exists()
    (done,) = [m for m in mailoutbox if guest.reference in m.body and "Portal" in m.body]
    assert "Web analytics" not in done.body
    timeline = compliance_client.get(f"/dashboard/requests/{guest.reference}/").content.decode()
    assert "cannot find the person" in timeline and "Web analytics" in timeline
    # The receipt, the proof, names every registered store, and how the identity was checked.
    receipt = compliance_client.get(f"/dashboard/requests/{guest.reference}/receipt/")
    proof = " ".join(re.sub(r"<[^>]+>", " ", receipt.content.decode()).split())
    assert "Web analytics Not asked: this store finds people only by Customer account" in proof
    assert "Identity Staff checked an identity document: Passport seen" in proof
    assert "signed with the portal's record key" in proof

    theirs = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=compliance_user
    )
    assert theirs.tasks.filter(store__key="analytics", action="erase").exists()


def _strangers(kind: str, support_user: User) -> DataSubjectRequest:
    """A request of someone no system knows, recorded by phone with a check."""
    return file_request(
        type=kind,
        email="stranger@example.org",
        channel="phone",
        actor=support_user,
        identity_method="staff_callback",
        identity_note="Called back the number the person gave",
    )


def _strangers_erasure_run(support_user: User) -> DataSubjectRequest:
    """The erasure of someone no system knows, approved and run in this process."""
    stranger = _strangers("erasure", support_user)
    return run_pending_tasks(dsr_request_approve(request=stranger, actor=None))


def test_recipients_are_told_after_the_erasure_and_only_of_a_person_whose_data_was_found(
    customer, support_user
):
    """GDPR Art. 19 asks Inper to tell those it shared the data with: a recipient hears of a
    person only once the erasure is done, only if a system held data about them, and, where
    its configuration says which systems its data came from, only if one of those did; a
    stranger's address is news to nobody."""
    from dsr.models import Action
    from tests.dsr.connectors import told

    add_store("shop", "tests.dsr.connectors.FlakyConnector")
    add_store(
        "carrier",
        "tests.dsr.connectors.RecipientConnector",
        is_recipient=True,
        config={"shared_from": ["shop"]},
    )
    add_store(
        "partner",
        "tests.dsr.connectors.RecipientConnector",
        is_recipient=True,
        config={"shared_from": ["newsletter"]},
    )
    add_store("crm", "tests.dsr.connectors.RecipientConnector", is_recipient=True)

    approved = dsr_request_approve(request=file_request(type="erasure", user=customer), actor=None)
    # Planned at approval: the erasures, not yet the recipients.
    assert not approved.tasks.filter(action=Action.NOTIFY).exists()
    done = run_pending_tasks(approved)
    assert done.state == State.COMPLETED, list(done.tasks.values_list("store__key", "error"))
    assert told("carrier", customer.email) == told("crm", customer.email) == "erasure"
    assert told("partner", customer.email) is None  # nothing came from the newsletter here
    erased = done.tasks.filter(action=Action.ERASE).values_list("finished_at", flat=True)
    notified = done.tasks.filter(action=Action.NOTIFY).values_list("finished_at", flat=True)
    assert len(notified) == 2 and min(notified) >= max(erased)
    planned = AuditEvent.objects.get(action="dsr.request.recipients_planned")
    assert planned.scope == f"dsr.datasubjectrequest:{done.pk}"

    # A person Inper holds nothing about: nobody is told, and the request says so.
    DataStore.objects.filter(key="shop").update(enabled=False)
    stranger = _strangers_erasure_run(support_user)
    assert (stranger.state, stranger.outcome) == (State.COMPLETED, "no_data_found")
    assert not stranger.tasks.filter(action=Action.NOTIFY).exists()
    assert all(told(key, "stranger@example.org") is None for key in ("carrier", "crm", "partner"))


def test_recipients_wait_for_a_failed_step_to_be_retried_and_for_staff_who_found_nothing(
    customer, compliance_user, support_user
):
    """A store's erasure failed: nobody is told until an officer's retry of it succeeds. A
    staff step done with "this system holds nothing" counts as nothing found: a person no
    system held data about gets "no data found", and no recipient hears of them."""
    from dsr.models import Action
    from dsr.stores import manual_step_complete
    from tests.dsr.connectors import told

    add_store(
        "newsletter",
        "tests.dsr.connectors.FlakyConnector",
        config={"fail_times": 1, "permanent": True},
    )
    add_store("crm", "tests.dsr.connectors.RecipientConnector", is_recipient=True)
    erasure = dsr_request_approve(request=file_request(type="erasure", user=customer), actor=None)
    erasure = run_pending_tasks(erasure)
    assert erasure.state == State.WAITING
    assert not erasure.tasks.filter(action=Action.NOTIFY).exists()
    assert told("crm", customer.email) is None

    dsr_task_retry(task=erasure.tasks.get(state=TaskState.FAILED), actor=compliance_user)
    erasure = run_pending_tasks(erasure)
    assert erasure.state == State.COMPLETED and told("crm", customer.email) == "erasure"

    # Staff search a system by hand for a stranger and find nothing.
    DataStore.objects.filter(key="newsletter").update(enabled=False)
    add_store(
        "payments",
        "dsr.connectors.manual.ManualConnector",
        config={
            "actions": ["erase"],
            "assigned_group": "Compliance",
            "instructions": {"erase": "Delete the person in the payment provider."},
        },
    )
    stranger = _strangers_erasure_run(support_user)
    step = stranger.tasks.get(store__key="payments")
    manual_step_complete(
        task=step, actor=compliance_user, note="Searched: no such customer.", nothing_held=True
    )
    stranger = run_pending_tasks(stranger)
    assert (stranger.state, stranger.outcome) == (State.COMPLETED, "no_data_found")
    assert told("crm", "stranger@example.org") is None
    step.refresh_from_db()
    assert step.receipt["nothing_held"] is True


def test_a_copy_for_someone_inper_holds_nothing_on_is_offered_as_what_it_holds(support_user):
    """Nothing was found beyond the person's request itself, which their copy still holds:
    the e-mail, its resending and the request's page say so and link to it, instead of "we
    found nothing" beside a download officers see."""
    from dsr.notifications import completed

    stranger = _strangers("access", support_user)
    mail.outbox.clear()
    done = run_pending_tasks(stranger)  # its identity checked, approved at once
    assert (done.state, done.outcome) == (State.COMPLETED, "no_data_found")
    assert ExportPackage.objects.get(request=done).built_at is not None

    completed(done)  # as staff's "send the download link again" sends it
    for letter in [m for m in mail.outbox if m.to == ["stranger@example.org"]][-2:]:
        assert "found nothing about you apart from your requests to us" in letter.body
        assert f"/requests/{done.reference}/" in letter.body


def test_the_history_says_a_request_went_on_after_a_retry_rather_than_started_again(
    customer, compliance_user
):
    from django.core.cache import cache

    from dsr.selectors import history

    add_store("flaky", "tests.dsr.connectors.FlakyConnector", config={"fail_times": 1})
    request = file_request(type="access", user=customer)
    flaky = request.tasks.get(store__key="flaky")
    StoreTask.objects.filter(pk=flaky.pk).update(max_attempts=1)
    request = run_pending_tasks(request)
    assert request.state == State.WAITING
    cache.set("flaky-calls-flaky", 100, 3600)  # the store is back
    dsr_task_retry(task=flaky, actor=compliance_user)
    request = run_pending_tasks(request)
    assert request.state == State.COMPLETED

    steps = [entry.text for entry in history(request)]
    assert steps.count("In progress") == 1, steps
    assert (
        steps.index("In progress")
        < steps.index("With our team")
        < steps.index("In progress again")
        < steps.index("Completed")
    ), steps
