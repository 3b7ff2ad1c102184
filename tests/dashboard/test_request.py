"""The request page and its actions: each through its service, audited, and refused with a
clear message (changing nothing) when the request's state does not allow it."""

from __future__ import annotations

import hashlib
import html
import re
import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import strip_tags

from accounts.models import User
from dsr.dashboard.preview import dsr_request_preview_start, preview_locate
from dsr.models import DataStore, DataSubjectRequest, RequestNote, State, TaskState
from dsr.services import (
    TransitionError,
    dsr_request_approve,
    dsr_request_cancel,
    dsr_request_reject,
)
from privacy_portal.audit.models import AuditEvent
from tests.conftest import login
from tests.dsr.helpers import add_store, file_request, run_pending_tasks

pytestmark = pytest.mark.django_db


def _post(client, request, action, data=None, **kwargs):
    return client.post(f"/dashboard/requests/{request.reference}/{action}/", data or {}, **kwargs)


def _messages(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_page_shows_the_person_their_identity_check_and_the_timeline(
    compliance_client, erasure
):
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    assert erasure.email in page
    assert "Signed in and re-authenticated" in page  # how identity was verified
    assert "Request received" in page and "In review" in page  # the audit timeline
    assert "Approve" in page and "Reject" in page and "Extend the deadline" in page


def test_the_progress_the_page_follows_names_the_state_as_the_page_does(
    compliance_client, guest_access
):
    """The page announces a change of state in the officers' words, not the person's
    ("Waiting for you to confirm your e-mail")."""
    progress = compliance_client.get(f"/dashboard/requests/{guest_access.reference}/progress/")
    page = compliance_client.get(f"/dashboard/requests/{guest_access.reference}/")

    assert progress.json()["state_label"] == "Awaiting identity"
    assert "Awaiting identity" in page.content.decode()


def test_the_approval_of_an_erasure_points_to_the_plan_where_the_page_shows_it(
    compliance_client, erasure
):
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()

    plan = page.index('<h2 id="preview-heading">What the erasure will do</h2>')
    approve = page.index(f'action="/dashboard/requests/{erasure.reference}/approve/"')
    assert plan < approve
    assert "as the plan above (“What the erasure will do”) says" in page


def test_the_timeline_says_what_happened_and_why_in_words_not_codes(
    compliance_client, compliance_user, erasure
):
    compliance_user.preferred_language = "de"
    compliance_user.save(update_fields=["preferred_language"])

    response = compliance_client.get(f"/dashboard/requests/{erasure.reference}/")

    timeline = {entry.text: entry for entry in response.context["page"].timeline}
    received = timeline["Antrag eingegangen"]
    assert "Art: Löschung" in received.detail and "Kanal: Portal, angemeldet" in received.detail
    assert "Rechtsordnung: DSGVO" in received.detail
    verified = timeline["Eingegangen → Identität bestätigt"]
    assert verified.reason == "Identität bei Eingang bestätigt"
    assert verified.detail == "Identität: Angemeldet und erneut authentifiziert"
    in_review = timeline["Identität bestätigt → In Prüfung"]
    assert in_review.reason == "braucht die Genehmigung eines Compliance-Mitarbeitenden"
    page = response.content.decode().split('id="timeline"')[1].split("</section>")[0]
    for code in ("needs_approval", "identity_confirmed", "session_reauth", "channel: portal"):
        assert code not in page


def test_a_store_has_one_name_on_the_page_in_the_officers_language(
    compliance_client, compliance_user, customer
):
    compliance_user.preferred_language = "de"
    compliance_user.save(update_fields=["preferred_language"])
    add_store(
        "psp",
        "tests.dsr.connectors.StaffStepConnector",
        name="Payment provider",
        config={"names": {"en": "Payment provider", "de": "Zahlungsdienstleister"}},
    )
    request = run_pending_tasks(file_request(type="access", user=customer))
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert '<th scope="row">Zahlungsdienstleister</th>' in page
    assert "Payment provider" not in page


def test_the_timeline_says_what_the_built_copy_holds_in_words(compliance_client, customer):
    done = run_pending_tasks(file_request(type="access", user=customer))
    page = compliance_client.get(f"/dashboard/requests/{done.reference}/").content.decode()
    timeline = page.split('id="timeline"')[1].split("</section>")[0]
    assert "Files in the copy: " in timeline and "Size in bytes: " in timeline
    assert "members: " not in timeline and ", bytes: " not in timeline


def test_verify_by_hand_and_the_receipt(
    compliance_client, compliance_user, guest_access, django_capture_on_commit_callbacks
):
    # The guest confirmed the e-mail but gave no order number that matched: held for review.
    from dsr.services import dsr_request_verify_email

    held = dsr_request_verify_email(
        request_id=guest_access.pk, nonce=guest_access.verification_nonce, order_number="X-1"
    )
    assert held.held_reason == "identity_needs_review"
    page = compliance_client.get(f"/dashboard/requests/{held.reference}/").content.decode()
    assert "no store matched the order number they gave" in page
    response = _post(compliance_client, held, "approve", follow=True)
    assert "Confirm the person's identity before approving." in _messages(response)

    response = _post(
        compliance_client,
        held,
        "verify",
        {"verify-method": "staff_callback", "verify-note": "Called back the number on the order."},
        follow=True,
    )
    # Held for the identity check alone: an access request is then approved as the settings
    # say, with no second click.
    assert _messages(response) == [
        "The identity check was recorded, and the request approved: for its type the settings "
        "need no other decision."
    ]
    done = run_pending_tasks(DataSubjectRequest.objects.get(pk=held.pk))
    assert done.state == State.COMPLETED and done.approved_by is None

    receipt = compliance_client.get(f"/dashboard/requests/{done.reference}/receipt/")
    assert receipt.status_code == 200
    text = receipt.content.decode()
    assert "Inper Privacy Portal" in text and "on time" in text
    # English times end in "a.m." or "p.m.": the sentence does not end with the time.
    assert "This receipt counts the person's records instead of showing them (generated " in text
    assert "automatically" in text and "Channel" in text
    assert not re.search(r"\.\.", " ".join(re.sub(r"<[^>]+>", " ", text).split()))


def test_a_guest_held_without_an_order_number_is_described_as_such(
    compliance_client, guest_access, client
):
    """Not "no store matched the order number they gave": they gave none. The person reads
    that someone will contact them, not only "being reviewed"."""
    from dsr.notifications import status_token
    from dsr.services import dsr_request_verify_email

    held = dsr_request_verify_email(
        request_id=guest_access.pk, nonce=guest_access.verification_nonce, order_number=""
    )
    page = compliance_client.get(f"/dashboard/requests/{held.reference}/").content.decode()
    assert "gave no order number" in page and "the order number they gave" not in page
    theirs = client.get(f"/requests/{held.reference}/?t={status_token(held)}").content.decode()
    assert "a member of our privacy team will contact you to confirm it is you" in theirs
    assert "We will write to you if we need anything" not in theirs  # would say the opposite
    # Their history says the address was confirmed before "being reviewed".
    steps = re.findall(r"</time> ([^<]+)</li>", theirs)
    assert steps[-2:] == ["E-mail address confirmed", "Being reviewed"], steps


def test_an_identity_check_needs_a_method_and_a_description(compliance_client, guest_access):
    response = _post(compliance_client, guest_access, "verify", {"verify-method": "staff_callback"})
    assert response.status_code == 400
    assert "Say in a few words what you checked, as proof of the check." in (
        html.unescape(response.content.decode())
    )
    guest_access.refresh_from_db()
    assert guest_access.state == State.AWAITING_IDENTITY

    # No method is chosen in advance: one not chosen is asked for, not recorded.
    page = compliance_client.get(f"/dashboard/requests/{guest_access.reference}/").content
    assert b'<option value="" selected>Choose how</option>' in page
    response = _post(compliance_client, guest_access, "verify", {"verify-note": "Called back"})
    assert response.status_code == 400
    assert "Choose how you checked the person&#x27;s identity." in response.content.decode()
    guest_access.refresh_from_db()
    assert guest_access.state == State.AWAITING_IDENTITY


def test_reject_with_a_reason_tells_the_person_of_their_right_to_complain(
    compliance_client, erasure, mailoutbox, django_capture_on_commit_callbacks
):
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    # Final, and e-mailed at once: the browser asks first.
    assert 'data-confirm="Reject this request and e-mail the person the reason now?"' in page
    # No reason is chosen in advance (it was "identity", also for a signed-in request).
    assert re.search(r'<option value="" selected>Choose…</option>', page)
    response = _post(compliance_client, erasure, "reject", {"reject-reason": ""})
    assert response.status_code == 400
    assert "Choose why the request is rejected." in response.content.decode()
    response = _post(compliance_client, erasure, "reject", {"reject-reason": "other"})
    # "Other" needs an explanation: said at the field, with the form open again.
    assert response.status_code == 400
    page = response.content.decode()
    assert 'aria-invalid="true"' in page and "Explain the reason to the person." in page
    assert '<details class="dash-form" open>' in page
    erasure.refresh_from_db()
    assert erasure.state == State.IN_REVIEW
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            compliance_client,
            erasure,
            "reject",
            {
                "reject-reason": "legal_claims",
                "reject-note": "We are in a dispute about order 1234.",
            },
            follow=True,
        )
    assert "Rejected." in " ".join(_messages(response))
    letter = mailoutbox[-1]
    assert "legal claims" in letter.body and "supervisory authority" in letter.body
    assert "order 1234" in letter.body
    erasure.refresh_from_db()
    assert erasure.state == State.REJECTED and erasure.rejection_reason == "legal_claims"


@pytest.mark.parametrize(
    ("country", "where", "not_there"),
    [
        ("US", "California Privacy Protection Agency", "supervisory authority"),
        ("GB", "Information Commissioner's Office", "California"),
        ("FR", "supervisory authority", "California"),
    ],
)
def test_a_rejection_names_where_to_complain_under_the_law_of_the_request(
    customer,
    compliance_user,
    mailoutbox,
    django_capture_on_commit_callbacks,
    country,
    where,
    not_there,
):
    customer.country = country
    customer.save(update_fields=["country"])
    request = file_request(type="rectification", user=customer, details="My name is wrong")
    assert request.state == State.IN_REVIEW
    with django_capture_on_commit_callbacks(execute=True):
        dsr_request_reject(request=request, actor=compliance_user, reason="identity")

    letter = mailoutbox[-1]
    assert where in letter.body and not_there not in letter.body
    assert where in letter.alternatives[0][0].replace("&#x27;", "'")


def test_a_rejection_for_another_reason_gives_the_explanation_and_the_requests_link(
    customer, compliance_user, mailoutbox, django_capture_on_commit_callbacks
):
    request = file_request(type="rectification", user=customer, details="My name is wrong")
    with django_capture_on_commit_callbacks(execute=True):
        dsr_request_reject(
            request=request,
            actor=compliance_user,
            reason="other",
            note="Your name is already spelt as you wrote it.",
        )

    letter = mailoutbox[-1]
    html = letter.alternatives[0][0]
    for text in (letter.body, html):
        assert "already spelt as you wrote it" in text
        assert "Another reason" not in text and "explained below" not in text
        assert f"/requests/{request.reference}/" in text
    assert "The reason: Your name is already spelt" in letter.body


def test_a_rejections_explanation_too_long_is_said_to_be_too_long(compliance_client, customer):
    request = file_request(type="rectification", user=customer, details="My name is wrong")
    response = compliance_client.post(
        f"/dashboard/requests/{request.reference}/reject/",
        {"reject-reason": "other", "reject-note": "Because. " * 300},
    )
    page = response.content.decode()
    assert response.status_code == 400 and "at most 2000 characters" in page
    assert "Explain the reason to the person." not in page
    request.refresh_from_db()
    assert request.state != State.REJECTED


def test_a_second_correction_linked_as_a_duplicate_is_read_on_the_first_ones_page(
    customer, customer_client, compliance_client, compliance_user
):
    """One open request per kind: the second correction is linked to the first, and what it
    asks (something else entirely) is on the page the officer works from. Cancelled, the first
    takes the second with it, and the person's page says so."""
    first = file_request(type="rectification", user=customer, details="My office address is old")
    second = file_request(type="rectification", user=customer, details="My birth date is wrong")
    assert second.state == State.DUPLICATE and second.duplicate_of_id == first.pk

    page = compliance_client.get(f"/dashboard/requests/{first.reference}/").content.decode()
    linked = page.split("Linked to this request")[1].split("</section>")[0]
    assert second.reference in linked and "My birth date is wrong" in linked
    assert "not confirmed to come from the person" not in linked  # filed signed in
    # Anyone can type the person's address: what they ask is marked as unconfirmed.
    typed = file_request(
        type="rectification",
        email=customer.email,
        channel="portal_guest",
        details="Send everything to evil@example.net",
    )
    assert typed.state == State.DUPLICATE
    page = compliance_client.get(f"/dashboard/requests/{first.reference}/").content.decode()
    linked = page.split("Linked to this request")[1].split("</section>")[0]
    entry = linked.split(f">{typed.reference}</a>")[1].split("</li>")[0]
    assert "not confirmed to come from the person: ask them before acting on it" in entry

    waiting = customer_client.get(f"/requests/{second.reference}/").content.decode()
    assert f"({first.reference}) was still open" in waiting and "answer both together" in waiting
    # Answered, the first says so on the second's page too.
    DataSubjectRequest.objects.filter(pk=first.pk).update(state=State.COMPLETED)
    answered = customer_client.get(f"/requests/{second.reference}/").content.decode()
    assert "We answered the two together; that request was completed on" in answered
    DataSubjectRequest.objects.filter(pk=first.pk).update(state=State.IN_REVIEW)
    dsr_request_cancel(request=first, actor=compliance_user)
    ended = customer_client.get(f"/requests/{second.reference}/").content.decode()
    assert "ended without being carried out (Cancelled)" in ended
    assert (
        "answer them together" not in ended and 'href="/requests/new/?type=rectification"' in ended
    )


def test_a_request_nobody_confirmed_is_not_extended(
    compliance_client, guest_access, mailoutbox, django_capture_on_commit_callbacks
):
    """The reason would go to an address whose owner never confirmed asking for anything."""
    page = compliance_client.get(f"/dashboard/requests/{guest_access.reference}/").content
    assert b"extend-reason" not in page
    sent = len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            compliance_client, guest_access, "extend", {"extend-reason": "Busy."}, follow=True
        )
    assert "Confirm who the person is before extending the deadline." in _messages(response)
    guest_access.refresh_from_db()
    assert guest_access.extended_at is None and len(mailoutbox) == sent


def test_a_request_held_for_an_identity_check_may_be_extended_meanwhile(
    compliance_client, guest_access, mailoutbox, django_capture_on_commit_callbacks
):
    """The person followed the e-mailed link (their order number did not match): the address
    is theirs, so they may be told why the deadline moves while the officer checks who they
    are."""
    from dsr.services import dsr_request_verify_email

    held = dsr_request_verify_email(
        request_id=guest_access.pk, nonce=guest_access.verification_nonce, order_number="X-1"
    )
    assert held.state == State.IN_REVIEW and held.verified_at is None
    page = compliance_client.get(f"/dashboard/requests/{held.reference}/").content
    assert b"extend-reason" in page
    with django_capture_on_commit_callbacks(execute=True):
        _post(compliance_client, held, "extend", {"extend-reason": "We check who you are."})
    held.refresh_from_db()
    assert held.extended_at is not None
    assert mailoutbox[-1].to == [held.email] and "We check who you are." in mailoutbox[-1].body


def test_extend_once_emails_the_reason_and_twice_is_refused(
    compliance_client, erasure, mailoutbox, django_capture_on_commit_callbacks
):
    before = erasure.due_at
    # The officer sees the new deadline before extending.
    from dsr.deadlines import extended_due_at

    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    promised = date_format(timezone.localtime(extended_due_at(erasure)), "DATETIME_FORMAT")
    assert f"The new deadline will be {promised}." in strip_tags(page)  # a <time> element
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            compliance_client,
            erasure,
            "extend",
            {"extend-reason": "Our order archive is being moved this month."},
            follow=True,
        )
    assert "The deadline was extended and the person was told why." in _messages(response)
    assert "Our order archive is being moved this month." in mailoutbox[-1].body
    erasure.refresh_from_db()
    assert erasure.due_at > before
    assert date_format(timezone.localtime(erasure.due_at), "DATETIME_FORMAT") == promised
    # The timeline gives the deadline it replaced and the new one as dates, in words, not the
    # audit trail's key.
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    dates = (date_format(timezone.localtime(day)) for day in (before, erasure.due_at))
    assert "Due by: {} → {}".format(*dates) in page
    assert "due_at" not in page
    # The deadline it replaced stays in sight.
    was = date_format(timezone.localtime(before), "DATETIME_FORMAT")
    on = date_format(timezone.localtime(erasure.extended_at), "DATE_FORMAT")
    assert f"was {was}; extended on {on}" in strip_tags(page)
    events = AuditEvent.objects.count()

    response = _post(compliance_client, erasure, "extend", {"extend-reason": "Again"}, follow=True)

    assert "This request was already extended once." in _messages(response)
    due = erasure.due_at
    erasure.refresh_from_db()
    assert erasure.due_at == due and AuditEvent.objects.count() == events


def test_a_request_that_cannot_be_extended_says_why(compliance_client, erasure):
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    assert "Extend the deadline" in page and "can no longer be extended" not in page

    DataSubjectRequest.objects.filter(pk=erasure.pk).update(
        due_at=timezone.now() - timedelta(days=1)
    )
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    assert "Extend the deadline" not in page
    assert "The deadline has passed, so it can no longer be extended" in page

    DataSubjectRequest.objects.filter(pk=erasure.pk).update(
        due_at=timezone.now() + timedelta(days=40), extended_at=timezone.now()
    )
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    assert "The deadline was already extended once" in page


def test_a_refused_change_names_the_state_as_the_officers_page_does(compliance_client, erasure):
    DataSubjectRequest.objects.filter(pk=erasure.pk).update(state=State.RUNNING)
    response = _post(compliance_client, erasure, "approve", {}, follow=True)
    assert "This request is “Running”, so it cannot become “Approved”." in _messages(response)


def test_actions_a_completed_request_does_not_allow_change_nothing(
    compliance_client, completed_access
):
    events = AuditEvent.objects.count()
    refusals = {
        "approve": "This request is “Completed”, so it cannot become “Approved”.",
        "cancel": "This request can no longer be cancelled: it has already been carried out.",
        "reject": "This request is “Completed”, so it cannot become “Rejected”.",
        "extend": "Only open requests can be extended.",
        "verify": "The identity of this person is already confirmed.",
    }
    data = {
        "reject-reason": "identity",
        "extend-reason": "More time",
        "verify-method": "staff_callback",
        "verify-note": "Called back",
        "cancel-how": "By phone",
    }
    for action, refusal in refusals.items():
        response = _post(compliance_client, completed_access, action, data, follow=True)
        assert _messages(response) == [refusal], action
    completed_access.refresh_from_db()
    assert completed_access.state == State.COMPLETED
    assert AuditEvent.objects.count() == events
    page = compliance_client.get(f"/dashboard/requests/{completed_access.reference}/")
    assert "<dd>Done</dd>" in page.content.decode()  # how it ended, in words


def test_cancelling_for_the_person_records_how_they_asked_and_tells_them(
    compliance_client, erasure, mailoutbox, django_capture_on_commit_callbacks
):
    person = erasure.email
    response = _post(compliance_client, erasure, "cancel", {"cancel-how": " "}, follow=True)
    assert response.status_code == 400
    assert "Say how the person asked to cancel it" in response.content.decode()
    erasure.refresh_from_db()
    assert erasure.state != State.CANCELLED and not mailoutbox

    how = "By phone on 5 December; order number checked."
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(compliance_client, erasure, "cancel", {"cancel-how": how}, follow=True)
    assert _messages(response) == ["The request was cancelled; the person is told by e-mail."]
    erasure.refresh_from_db()
    assert erasure.state == State.CANCELLED and erasure.outcome == "cancelled"
    (told,) = [m for m in mailoutbox if m.to == [person]]
    assert erasure.reference in told.subject and "As you asked us, we cancelled" in told.body
    assert "If you did not ask for this" in told.body and how not in told.body
    # The officers' timeline says who cancelled it and keeps how the person asked.
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    assert "cancelled by staff, as the person asked" in page and how in page
    event = AuditEvent.objects.filter(action="dsr.request.state_changed").latest("seq")
    assert event.reason == "cancelled_for_person" and how not in str(event.after)


def test_retry_a_failed_task_but_not_one_that_succeeded(compliance_client, customer):
    add_store(
        "flaky", "tests.dsr.connectors.FlakyConnector", config={"fail_times": 1, "permanent": True}
    )
    request = run_pending_tasks(file_request(type="access", user=customer))
    assert request.state == State.WAITING
    theirs = login(Client(), customer).get(f"/requests/{request.reference}/").content.decode()
    assert "One of Inper's systems could not be reached." in theirs
    failed = request.tasks.get(state=TaskState.FAILED)
    succeeded = request.tasks.get(state=TaskState.SUCCEEDED)
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert "the test store refuses" in page and "Retry" in page

    response = compliance_client.post(f"/dashboard/tasks/{succeeded.pk}/retry/", follow=True)
    assert "Only failed tasks can be retried." in _messages(response)
    succeeded.refresh_from_db()
    assert succeeded.state == TaskState.SUCCEEDED

    response = compliance_client.post(f"/dashboard/tasks/{failed.pk}/retry/", follow=True)
    assert "The task was queued again." in _messages(response)
    request = run_pending_tasks(DataSubjectRequest.objects.get(pk=request.pk))
    assert request.state == State.COMPLETED
    # Done now, the step's row no longer says why it failed: the timeline still does.
    failed.refresh_from_db()
    assert failed.state == TaskState.SUCCEEDED and failed.error == ""
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert "Error: the test store refuses" in page
    assert "Had failed with: the test store refuses · Attempts before the retry: 1" in page
    # Its row still counts the attempts before the retry.
    assert '1 / 5<br><span class="muted">1 before a retry by staff</span>' in page
    # The receipt does not read as a clean run: the failure and the retry are on it.
    receipt = compliance_client.get(f"/dashboard/requests/{request.reference}/receipt/")
    setbacks = receipt.content.decode().split("Failures and retries", 1)[1].split("</ul>")[0]
    assert "Store task failed" in setbacks and "Store task retried by staff" in setbacks
    assert "the test store refuses" in setbacks


def test_a_manual_step_is_marked_done_with_a_note_and_evidence(
    compliance_client, support_client, customer, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    add_store("carrier", "tests.dsr.connectors.StaffStepConnector")
    request = file_request(type="erasure", user=customer)
    dsr_request_approve(request=request, actor=None)
    request = run_pending_tasks(request)
    step = request.tasks.get(store__key="carrier")
    assert step.state == TaskState.WAITING and request.state == State.WAITING
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert "Delete the person in the test system." in page and "Mark done" in page

    response = compliance_client.post(
        f"/dashboard/tasks/{step.pk}/done/", {f"done-{step.pk}-note": ""}
    )
    assert response.status_code == 400
    evidence = SimpleUploadedFile("confirmation.pdf", b"%PDF-1.4 deleted", "application/pdf")
    response = compliance_client.post(
        f"/dashboard/tasks/{step.pk}/done/",
        {
            f"done-{step.pk}-note": "Deleted in the carrier's portal, ticket 55.",
            f"done-{step.pk}-evidence": evidence,
        },
        follow=True,
    )
    assert "The step was marked done." in _messages(response)
    step.refresh_from_db()
    assert step.state == TaskState.SUCCEEDED and step.note.startswith("Deleted")
    # The audit chain names the step and holds the checksums of the evidence and of the note.
    event = AuditEvent.objects.get(action="dsr.task.completed_by_staff")
    assert event.after == {
        "store": step.store_id,
        "action": "erase",
        "note_sha256": hashlib.sha256(step.note.encode()).hexdigest(),
        "evidence_sha256": hashlib.sha256(b"%PDF-1.4 deleted").hexdigest(),
    }
    assert event.after["evidence_sha256"] == step.receipt["evidence_sha256"]
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert "Checksum of the evidence file (SHA-256)" in page and "Carrier" in page
    download = compliance_client.get(f"/dashboard/tasks/{step.pk}/evidence/")
    assert b"".join(download.streaming_content) == b"%PDF-1.4 deleted"
    assert support_client.get(f"/dashboard/tasks/{step.pk}/evidence/").status_code == 403
    assert run_pending_tasks(request).state == State.COMPLETED


def test_an_internal_note_is_kept_and_audited_without_its_text(
    compliance_client, compliance_user, erasure
):
    response = _post(
        compliance_client,
        erasure,
        "notes",
        {"note-body": "Called Alice on +49 30 123."},
        follow=True,
    )
    assert "Note added." in _messages(response)
    note = RequestNote.objects.get(request=erasure)
    assert note.author == compliance_user and "+49 30 123" in response.content.decode()
    event = AuditEvent.objects.get(action="dsr.request.note_added")
    assert event.scope == f"dsr.datasubjectrequest:{erasure.pk}"
    assert "+49" not in str(event.after) + event.reason
    assert _post(compliance_client, erasure, "notes", {"note-body": "  "}).status_code == 400
    # The same note sent twice at once (a double click) is kept once.
    _post(compliance_client, erasure, "notes", {"note-body": "Called Alice on +49 30 123."})
    assert RequestNote.objects.filter(request=erasure).count() == 1
    assert AuditEvent.objects.filter(action="dsr.request.note_added").count() == 1
    # The timeline says a note was added; the number the trail keeps means nothing to a reader.
    assert "Internal note added" in response.content.decode()
    assert f"Note: {note.pk}<" not in response.content.decode()


def test_resend_the_download_link_only_while_there_is_a_copy(
    compliance_client, completed_access, erasure, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(compliance_client, completed_access, "resend-link", follow=True)
    assert "The e-mail with the download link was sent again." in _messages(response)
    assert mailoutbox[-1].to == [completed_access.email]
    assert f"/requests/{completed_access.reference}/" in mailoutbox[-1].body
    # The day the download ends, not the days a new copy would have.
    from django.utils import formats, timezone

    from dsr.models import ExportPackage

    ends = ExportPackage.objects.get(request=completed_access).expires_at
    ends_text = formats.date_format(timezone.localtime(ends), "DATE_FORMAT")
    assert f"The download is available until {ends_text}." in mailoutbox[-1].body
    assert AuditEvent.objects.filter(action="dsr.request.link_resent").count() == 1
    # A second click (or a colleague's) minutes later sends nothing more.
    sent = len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        again = _post(compliance_client, completed_access, "resend-link", follow=True)
    assert "was sent again a few minutes ago" in _messages(again)[0]
    assert len(mailoutbox) == sent
    assert AuditEvent.objects.filter(action="dsr.request.link_resent").count() == 1

    response = _post(compliance_client, erasure, "resend-link", follow=True)
    assert "There is no copy to download" in _messages(response)[0]


def test_send_the_confirmation_e_mail_again_while_the_person_has_not_confirmed(
    client, compliance_client, guest_access, mailoutbox, django_capture_on_commit_callbacks
):
    """A guest who lost the e-mail asking them to confirm (spam folder, a typo in their filter)
    calls support: the officer sends it again, the same link, which then confirms."""
    page = compliance_client.get(f"/dashboard/requests/{guest_access.reference}/").content.decode()
    assert "Send the confirmation e-mail again" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(compliance_client, guest_access, "resend-link", follow=True)
    assert "The e-mail with the confirmation link was sent again." in _messages(response)
    (again,) = mailoutbox
    assert again.to == ["guest.person@example.com"]
    (path,) = re.findall(r"https?://[^/\s]+(/requests/verify/\S+/)", again.body)
    # It names the day the link stops working, not "after 7 days" from now.
    expires = guest_access.verification_sent_at + timedelta(days=7)
    assert f"(until {date_format(timezone.localtime(expires), 'DATETIME_FORMAT')})" in again.body
    event = AuditEvent.objects.get(action="dsr.request.verification_resent")
    assert event.actor_id is not None and guest_access.email not in str(event.after)
    assert "Confirmation link sent again" in response.content.decode()  # on the timeline

    # A second click minutes later sends nothing more.
    sent = len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(compliance_client, guest_access, "resend-link", follow=True)
    assert "was sent again a few minutes ago" in _messages(response)[0]
    assert len(mailoutbox) == sent

    # The link in it works; once confirmed, there is nothing to send again.
    assert client.post(path, {"order_number": ""}).status_code == 302
    guest_access.refresh_from_db()
    assert guest_access.state != State.AWAITING_IDENTITY
    page = compliance_client.get(f"/dashboard/requests/{guest_access.reference}/").content.decode()
    assert "Send the confirmation e-mail again" not in page


def test_the_erasure_preview_shows_what_each_store_holds_and_will_do(
    compliance_client, compliance_user, erasure, django_capture_on_commit_callbacks
):
    add_store("flaky", "tests.dsr.connectors.FlakyConnector")
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    assert "What the erasure will do" in page and "delete" in page and "retain" in page
    # The plan speaks of "the person" to the officer, not to them ("your").
    assert "copies of the person&#x27;s data" in page and "copies of your data" not in page

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _post(compliance_client, erasure, "preview")
    assert len(callbacks) == 1
    panel = compliance_client.get(f"/dashboard/requests/{erasure.reference}/preview/panel/")
    assert "searching" in panel.content.decode()

    # The workers' part, run here: each store searched for the person.
    token = cache.get(f"dsr-preview:{erasure.pk}")["token"]
    for store in DataStore.objects.filter(enabled=True):
        preview_locate(erasure.pk, store.pk, token)
    panel = compliance_client.get(f"/dashboard/requests/{erasure.reference}/preview/panel/")
    text = panel.content.decode()
    assert "records found" in text and "searching" not in text
    assert "addresses" in text  # the customer's address, found in the portal
    # The portal's records by their titles, not their keys.
    assert "e-mail addresses" in text and "email_addresses" not in text
    assert AuditEvent.objects.filter(
        action="dsr.request.previewed", actor_id=compliance_user.pk
    ).exists()


def test_the_plan_says_how_each_store_takes_part_in_the_erasure(compliance_client, erasure):
    """A store that erases by itself (over HTTP, say) is not "done as a step for staff", and a
    recipient that is only told of the erasure says so."""
    add_store("mailer", "tests.dsr.connectors.FlakyConnector", name="Mailer")
    add_store(
        "crm",
        "dsr.connectors.manual.ManualConnector",
        name="CRM",
        is_recipient=True,
        config={"instructions": {}, "actions": ["notify"]},
    )
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    mailer = page.split("<h3>Mailer")[1].split('<div class="dash-preview-store"')[0]
    assert "erases the person's records itself when asked" in mailer
    assert "step for staff" not in mailer
    crm = page.split("<h3>CRM")[1].split('<div class="dash-preview-store"')[0]
    assert "it is told of the erasure" in crm


def test_the_preview_searches_no_store_whose_configuration_leaves_searches_out(
    compliance_client, compliance_user, erasure, django_capture_on_commit_callbacks
):
    """The group CRM is told of requests and restricts, but finds no one (its configured
    actions): asked anyway, it answered 400 to every preview."""
    crm = add_store(
        "crm", "tests.dsr.connectors.FlakyConnector", config={"actions": ["notify", "restrict"]}
    )
    searchable = add_store("flaky", "tests.dsr.connectors.FlakyConnector")

    with django_capture_on_commit_callbacks(execute=False):
        dsr_request_preview_start(request=erasure, actor=compliance_user)

    searched = cache.get(f"dsr-preview:{erasure.pk}")["stores"]
    assert searchable.pk in searched and crm.pk not in searched


def test_the_erasure_plan_names_periods_and_manual_steps_in_the_officers_language(
    compliance_client, compliance_user, erasure
):
    from dateutil.relativedelta import relativedelta
    from django.utils import translation

    from dsr.connectors.sql import _period_words

    compliance_user.preferred_language = "de"
    compliance_user.save(update_fields=["preferred_language"])
    add_store(
        "carrier",
        "dsr.connectors.manual.ManualConnector",
        config={"instructions": {}, "names": {"en": "Parcel carrier", "de": "Paketdienst"}},
    )

    response = compliance_client.get(f"/dashboard/requests/{erasure.reference}/")

    panel = response.content.decode().split('id="preview"')[1].split("</section>")[0]
    assert " · 730 Tage</div>" in panel  # the portal keeps the records of requests
    assert "von Hand, als Schritt für Mitarbeitende" in panel
    assert "days" not in panel and ">manual<" not in panel
    # The step for staff and the plan's caption name the store in the officer's language.
    assert '<th scope="row">Paketdienst</th>' in panel and ">carrier<" not in panel
    assert "Löschplan für Paketdienst" in panel
    with translation.override("de"):
        assert _period_words(relativedelta(years=10)) == "10 Jahre"
        assert _period_words(relativedelta(years=1, months=6)) == "1 Jahr, 6 Monate"
    with translation.override("en"):
        assert _period_words(relativedelta(days=1)) == "1 day"


def test_the_preview_refuses_requests_past_approval(compliance_user, completed_access, erasure):
    with pytest.raises(TransitionError):
        dsr_request_preview_start(request=completed_access, actor=compliance_user)
    dsr_request_reject(request=erasure, actor=compliance_user, reason="identity")
    with pytest.raises(TransitionError):
        dsr_request_preview_start(request=erasure, actor=compliance_user)


@pytest.mark.django_db(transaction=True)
def test_two_officers_deciding_at_once_cannot_both_succeed(postgres, customer):
    from dsr.services import dsr_request_approve as approve
    from privacy_portal.permissions import COMPLIANCE_GROUP
    from tests.factories import StaffFactory

    officers = [StaffFactory(group=COMPLIANCE_GROUP) for _ in range(2)]
    request = file_request(type="erasure", user=customer)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(officer: User, rejecting: bool) -> None:
        try:
            barrier.wait(timeout=10)
            if rejecting:
                dsr_request_reject(
                    request=DataSubjectRequest.objects.get(pk=request.pk),
                    actor=officer,
                    reason="identity",
                )
            else:
                approve(request=DataSubjectRequest.objects.get(pk=request.pk), actor=officer)
            outcomes.append("ok")
        except TransitionError as error:
            outcomes.append(f"refused: {error}")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(officers[0], False)),
        threading.Thread(target=decide, args=(officers[1], True)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(o[:3] for o in outcomes) == ["ok", "ref"], outcomes
    request.refresh_from_db()
    decisions = AuditEvent.objects.filter(
        scope=f"dsr.datasubjectrequest:{request.pk}",
        action="dsr.request.state_changed",
        after__state__in=["approved", "rejected"],
    )
    assert decisions.count() == 1
    if decisions.get().after["state"] == "rejected":
        assert request.state == State.REJECTED
    else:  # approved: the stores are being worked through (or already were)
        assert request.state in (State.RUNNING, State.COMPLETED)


#: What a paste from a document can hold: joiners and odd spaces, which the fields allow (other
#: format characters, such as a zero-width space, they refuse as such).
INVISIBLE = "\u200c\u200d\u00a0\u202f\u2028 "


def test_a_reason_or_note_that_shows_nothing_is_refused(compliance_client, erasure, mailoutbox):
    due, events = erasure.due_at, AuditEvent.objects.count()

    response = _post(
        compliance_client, erasure, "extend", {"extend-reason": INVISIBLE}, follow=True
    )
    assert "Give the reason for the extension; the person will read it." in _messages(response)
    response = _post(
        compliance_client,
        erasure,
        "reject",
        {"reject-reason": "other", "reject-note": INVISIBLE},
    )
    assert response.status_code == 400
    assert "Explain the reason to the person." in response.content.decode()
    response = _post(compliance_client, erasure, "notes", {"note-body": INVISIBLE}, follow=True)
    assert "Write the note first." in _messages(response)

    # The person was sent no letter without a reason, and nothing changed or was recorded.
    erasure.refresh_from_db()
    assert erasure.state == State.IN_REVIEW and erasure.due_at == due
    assert erasure.extended_at is None and erasure.rejection_reason == ""
    assert not RequestNote.objects.filter(request=erasure).exists()
    assert AuditEvent.objects.count() == events and not mailoutbox


def test_the_reason_for_an_extension_reaches_the_person_as_the_officer_wrote_it(
    compliance_client, erasure, mailoutbox, django_capture_on_commit_callbacks
):
    reason = "We're moving our R&D archive; it's back on <Monday>."
    with django_capture_on_commit_callbacks(execute=True):
        _post(compliance_client, erasure, "extend", {"extend-reason": reason})

    letter = mailoutbox[-1]
    assert reason in letter.body
    assert "&#x27;" not in letter.body and "&amp;" not in letter.body


def test_a_failed_steps_error_is_shown_in_each_officers_language(
    compliance_client, compliance_user, erasure
):
    """The error is kept as it was said, so that an officer reading German gets it in German
    (it was recorded in the worker, in the portal's language)."""
    store = add_store(
        "newsletter",
        "dsr.connectors.http.HTTPConnector",
        config={"url": "http://127.0.0.1:9/dsr"},  # nothing listens there
    )
    store.set_secrets({"signing_secret": "a-shared-secret-of-at-least-32-characters"})
    store.save()
    request = dsr_request_approve(request=erasure, actor=compliance_user)
    request.tasks.update(max_attempts=2)
    run_pending_tasks(request)
    failed = request.tasks.get(store=store)
    assert failed.state == TaskState.FAILED
    assert failed.error == "The service cannot be reached (ConnectError). Gave up after 2 attempts."

    english = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    compliance_user.preferred_language = "de"
    compliance_user.save(update_fields=["preferred_language"])
    german = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()

    assert "The service cannot be reached (ConnectError). Gave up after 2 attempts." in english
    assert "Der Dienst ist nicht erreichbar (ConnectError). Nach 2 Versuchen aufgegeben." in german
    assert "cannot be reached" not in german
    # The timeline keeps the error in the reader's language too.
    assert german.count("Der Dienst ist nicht erreichbar (ConnectError).") >= 2


def test_the_timeline_names_each_steps_store_and_action_in_words(
    compliance_client, compliance_user, erasure
):
    from dsr.dashboard.preview import dsr_request_preview_start

    dsr_request_preview_start(request=erasure, actor=compliance_user)
    done = run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user))
    compliance_user.preferred_language = "de"
    compliance_user.save(update_fields=["preferred_language"])

    response = compliance_client.get(f"/dashboard/requests/{done.reference}/")

    details = [entry.detail for entry in response.context["page"].timeline]
    assert "Geplante Schritte: Inper-Datenschutzportal (Löschen)" in details
    assert "Datenspeicher: Inper-Datenschutzportal · Schritt: Löschen · Versuch: 1" in details
    # The preview names the stores it searched, not their ids.
    assert "Datenspeicher: Inper-Datenschutzportal" in details
    page = response.content.decode().split('id="timeline"')[1].split("</section>")[0]
    assert "store: " not in page and "action: erase" not in page


def test_the_page_names_the_uses_objected_to_and_the_language_in_words(compliance_client, customer):
    objection = file_request(
        type="objection", user=customer, purposes=("international_transfers",), language="de"
    )
    page = compliance_client.get(f"/dashboard/requests/{objection.reference}/").content.decode()
    assert "international_transfers" not in page
    assert "<dd>German</dd>" in page


def test_records_made_anonymous_and_kept_are_counted_once(customer):
    """The shop anonymises a person's orders and keeps them for the tax law: the same 4
    orders, not 4 more records, counted as kept. Found is what the preview found (13 + 4 + 7):
    13 erased, 11 kept."""
    from django.template.loader import render_to_string

    from dsr.dashboard.selectors import task_row
    from dsr.models import StoreTask
    from dsr.notifications import plain_receipts

    receipt = {
        "deleted": {"reviews": 13},
        "anonymised": {"orders": 4},
        "retained": [
            {"entity": "orders", "count": 4, "basis": "Tax law", "until": "2036-12-31"},
            {"entity": "invoices", "count": 7, "basis": "Tax law", "until": "2036-12-31"},
        ],
        "remaining": {"reviews": 0, "orders": 0},
    }
    request = file_request(type="erasure", user=customer)
    store = add_store("shop", "tests.dsr.connectors.FlakyConnector")
    task = StoreTask.objects.create(
        request=request, store=store, action="erase", state=TaskState.SUCCEEDED, receipt=receipt
    )

    row = task_row(task)
    assert (row.found, row.erased, row.retained) == (24, 13, 11)  # they add up
    assert [kept["anonymised"] for kept in row.retained_detail] == [True, False]
    notified = add_store("crm", "tests.dsr.connectors.FlakyConnector", name="CRM", position=90)
    StoreTask.objects.create(
        request=request, store=notified, action="notify", state=TaskState.SUCCEEDED, receipt={}
    )
    plain, told = plain_receipts(request)
    told_text = " ".join(render_to_string("dsr/receipt_row.html", {"row": told}).split())
    assert "CRM</strong>: told to erase what we shared with it" in told_text
    assert "records deleted" not in told_text
    text = " ".join(render_to_string("dsr/receipt_row.html", {"row": plain}).split())
    assert "13 records deleted, 4 records made anonymous" in text
    # Each kept by name: which records, not only how many.
    assert "orders: the 4 made anonymous are kept: Tax law" in text
    assert "invoices: 7 records kept: Tax law" in text


def test_kept_records_going_on_different_days_are_kept_until_the_last_at_the_latest(
    customer, compliance_client, compliance_user
):
    """Three orders, each kept 10 years from its own date: the e-mail, the person's page and
    the officers' receipt give the day the last one goes, as the latest (the older ones go
    earlier). One record, or records that go together, have their day. A receipt written
    before the first day was recorded cannot tell, so it says "at the latest" too."""
    from django.template.loader import render_to_string

    from dsr.models import StoreTask
    from dsr.notifications import plain_receipts

    tax = {"basis": "Tax law", "until": "2036-10-04"}
    receipt = {
        "deleted": {"reviews": 1},
        "retained": [
            {"entity": "orders", "count": 3, **tax, "first_until": "2034-02-01"},
            {"entity": "invoices", "count": 2, **tax, "first_until": "2036-10-04"},
            {"entity": "contracts", "count": 1, "basis": "Contract law", "until": "2030-01-31"},
            {"entity": "letters", "count": 2, "basis": "Post law", "until": "2031-05-01"},
        ],
        "remaining": {"reviews": 0},
    }
    request = file_request(type="erasure", user=customer)
    store = add_store("shop", "tests.dsr.connectors.FlakyConnector")
    StoreTask.objects.create(
        request=request, store=store, action="erase", state=TaskState.SUCCEEDED, receipt=receipt
    )

    (plain,) = plain_receipts(request)
    text = " ".join(render_to_string("dsr/receipt_row.html", {"row": plain}).split())
    assert "orders: 3 records kept: Tax law (until 4 October 2036 at the latest);" in text
    assert "invoices: 2 records kept: Tax law (until 4 October 2036);" in text
    assert "contracts: 1 record kept: Contract law (until 31 January 2030);" in text
    assert "letters: 2 records kept: Post law (until 1 May 2031 at the latest)" in text
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/receipt/")
    shown = " ".join(page.content.decode().split())
    assert "orders: 3 retained; basis: Tax law (until 4 October 2036 at the latest)" in shown
    assert "invoices: 2 retained; basis: Tax law (until 4 October 2036)" in shown
    # The request's own page says the same.
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/")
    shown = " ".join(page.content.decode().split())
    assert "orders: 3 retained; basis: Tax law (until 4 October 2036 at the latest)" in shown

    # A basis the portal words itself is read in the officer's language.
    receipt["retained"][0]["basis"] = (
        "Proof that Inper answered your requests (GDPR Art. 5(2) and 12); redacted after 24 months"
    )
    StoreTask.objects.filter(request=request).update(receipt=receipt)
    compliance_user.preferred_language = "de"
    compliance_user.save(update_fields=["preferred_language"])
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/receipt/")
    assert "Nachweis, dass Inper Ihre Anträge beantwortet hat" in page.content.decode()


def test_a_request_awaiting_confirmation_says_when_its_link_runs_out(
    compliance_client, guest_access, settings
):
    """The officer sees when the link went out and when the request closes unconfirmed."""
    from datetime import timedelta

    ends = guest_access.verification_sent_at + timedelta(days=settings.DSR_VERIFICATION_DAYS)
    page = compliance_client.get(f"/dashboard/requests/{guest_access.reference}/")
    expires = date_format(timezone.localtime(ends), "DATETIME_FORMAT")
    shown = strip_tags(page.content.decode())  # the times are <time> elements
    assert f"if unused by {expires}, the request closes unconfirmed" in shown


def test_the_timeline_names_a_guest_as_the_person_for_filing_and_confirming(
    compliance_client, guest_access
):
    """Filed and confirmed without an account to name: the person did both, not "System"."""
    from dsr.services import dsr_request_verify_email

    dsr_request_verify_email(
        request_id=guest_access.pk, nonce=guest_access.verification_nonce, order_number=""
    )
    page = compliance_client.get(f"/dashboard/requests/{guest_access.reference}/").content
    entries = re.findall(r"<strong>([^<]+)</strong> · ([^<\n]+)", page.decode())
    assert entries == [
        ("Request received", "The person"),
        ("Received → Awaiting identity", "System"),  # the portal sent the link
        ("Awaiting identity → In review", "The person"),  # they confirmed it
    ]


def test_a_failed_step_behind_a_staff_step_and_the_answer_without_it(compliance_client, customer):
    """The officer is told why they cannot answer without the failed step yet; answered
    without it, the person's page names the system the answer lacks and counts it undone."""
    from dsr.services import dsr_task_complete_manual

    add_store(
        "flaky",
        "tests.dsr.connectors.FlakyConnector",
        config={"fail_times": 1, "permanent": True, "names": {"en": "Loyalty club"}},
    )
    add_store("payments", "tests.dsr.connectors.StaffStepConnector")
    request = run_pending_tasks(file_request(type="access", user=customer))
    assert request.state == State.WAITING
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert "first finish the steps waiting for staff" in page
    assert "/answer-without-failed/" not in page

    step = request.tasks.get(store__key="payments")
    dsr_task_complete_manual(
        task=step, actor=None, note="Nothing there.", receipt={"nothing_held": True}
    )
    request = run_pending_tasks(request)
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert "first finish the steps waiting for staff" not in page
    assert "/answer-without-failed/" in page

    answered = compliance_client.post(
        f"/dashboard/requests/{request.reference}/answer-without-failed/"
    )
    assert answered.status_code == 302
    request = run_pending_tasks(request)
    assert request.state == State.PARTIALLY_COMPLETED
    # The officers' timeline says how it ended, once.
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    timeline = " ".join(page.split('id="timeline"')[1].split("</section>")[0].split())
    assert "answered without what the failed steps would have done" in timeline
    assert "Outcome: Done" not in timeline
    theirs = login(Client(), customer).get(f"/requests/{request.reference}/").content.decode()
    assert "Not done yet in: Loyalty club." in theirs
    done, total = re.search(r"data-progress-text>(\d+) / (\d+)<", theirs).groups()
    assert int(done) == int(total) - 1


def test_the_timeline_calls_the_person_the_person_after_their_erasure_deleted_the_account(
    compliance_client, compliance_user, customer
):
    restriction = file_request(type="restriction", user=customer)
    erasure = file_request(type="erasure", user=customer)
    run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user))
    assert not User.objects.filter(pk=customer.pk).exists()

    for request in (restriction, erasure):
        page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
        timeline = page.split('id="timeline"')[1].split("</section>")[0]
        assert "The person" in timeline
        assert f"Person {customer.pk}" not in timeline
