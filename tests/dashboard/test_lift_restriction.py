"""Lifting a completed restriction (GDPR Art. 18(3)): a compliance officer gives the reason, the
person is told by e-mail first, then every store that restricted their data lifts it through
the store tasks the workers run; the dashboard and the person's page show it lifted."""

from __future__ import annotations

import json
import smtplib
from typing import Any
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client

from dsr import engine
from dsr.models import Action, DataSubjectRequest, State, StoreTask, TaskState
from dsr.services import dsr_request_approve
from privacy_portal.audit.models import AuditEvent
from tests.conftest import login
from tests.dsr.connectors import restricted
from tests.dsr.helpers import add_store, answer_without_failed, file_request, run_pending_tasks

pytestmark = pytest.mark.django_db

REASON = "Your complaint about the order was settled, so the data may be used again."
LIFTED = ("dsr.restriction.lift_started", "dsr.restriction.lifted")


def _restrict(customer: Any, officer: Any, **store: Any) -> DataSubjectRequest:
    """A restriction of ``customer``'s, carried out in the portal and a CRM that restricts."""
    add_store("crm", "tests.dsr.connectors.RestrictingConnector", **store)
    created = file_request(type="restriction", user=customer)
    done = run_pending_tasks(dsr_request_approve(request=created, actor=officer))
    assert done.state == State.COMPLETED
    assert restricted("crm", customer.email) is True
    return done


@pytest.fixture
def restriction(customer: Any, compliance_user: Any) -> DataSubjectRequest:
    return _restrict(customer, compliance_user)


def _lift(client: Client, request: DataSubjectRequest, reason: str = REASON, **extra: Any) -> Any:
    return client.post(
        f"/dashboard/requests/{request.reference}/lift-restriction/",
        {"lift-reason": reason},
        **extra,
    )


def _objected(customer: Any) -> DataSubjectRequest:
    """The person's objection to transfers abroad, carried out: the group CRM (registered for
    that use) restricted their record."""
    add_store(
        "crm",
        "tests.dsr.connectors.RestrictingConnector",
        config={"purpose_keys": ["international_transfers"]},
    )
    return run_pending_tasks(
        file_request(type="objection", user=customer, purposes=("international_transfers",))
    )


def _nothing_lifted(request: DataSubjectRequest, email: str) -> None:
    request.refresh_from_db()
    assert request.restriction_lift_started_at is None and request.restriction_lifted_at is None
    assert not request.tasks.filter(action=Action.LIFT).exists()
    assert not AuditEvent.objects.filter(action__in=LIFTED).exists()
    assert not [m for m in mail.outbox if m.to == [email]]
    assert restricted("crm", email) is not False


def test_an_officer_lifts_a_restriction_and_the_person_is_told_first(
    compliance_client,
    compliance_user,
    customer,
    restriction,
    django_capture_on_commit_callbacks,
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as sent:
        response = _lift(compliance_client, restriction)

    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/requests/{restriction.reference}/#lift"
    # Told first: the e-mail is out while the store still holds the data restricted, and the
    # lift waits for the workers (one task per store that restricted it, sent on commit).
    [letter] = [m for m in mail.outbox if m.to == [customer.email]]
    assert restricted("crm", customer.email) is True
    assert REASON in letter.body and restriction.reference in letter.subject
    html = next(body for body, kind in letter.alternatives if kind == "text/html")
    assert REASON in html and "lodge a complaint" in html
    lifts = StoreTask.objects.filter(request=restriction, action=Action.LIFT)
    assert {task.store.key for task in lifts} == {"crm"}
    assert all(task.state == TaskState.QUEUED for task in lifts) and len(sent) == 1

    done = run_pending_tasks(restriction)

    assert restricted("crm", customer.email) is False
    assert done.state == State.COMPLETED and done.restriction_lifted_at is not None
    assert done.restriction_lifted_by == compliance_user
    assert not done.subject_snapshot  # kept for the lift, gone with it
    crm = lifts.get(store__key="crm")
    assert crm.state == TaskState.SUCCEEDED and crm.receipt["lifted"] is True
    # Audited, without the reason (free text) or anything of the person.
    started, lifted = AuditEvent.objects.filter(action__in=LIFTED).order_by("seq")
    assert started.action == "dsr.restriction.lift_started"
    assert started.actor_id == compliance_user.pk
    assert started.after == {"person_told": True, "stores": [t.store_id for t in lifts]}
    assert lifted.action == "dsr.restriction.lifted" and lifted.actor_type == "system"
    recorded = json.dumps([e.after for e in (started, lifted)] + [started.reason]).lower()
    assert customer.email not in recorded and "complaint" not in recorded

    # What the officer sees.
    page = compliance_client.get(f"/dashboard/requests/{restriction.reference}/").content.decode()
    assert "restriction lifted" in page and REASON in page
    assert "Person told; restriction being lifted" in page
    assert "Restriction lifted in every store" in page
    assert "Lift restriction" in page  # the stores' tasks
    assert 'id="lift-heading"' not in page  # nothing more to lift
    # What the person sees.
    mine = login(Client(), customer)
    detail = mine.get(f"/requests/{restriction.reference}/").content.decode()
    assert "We lifted this restriction on" in detail and REASON in detail
    assert "We told you that we are lifting the restriction, and why" in detail
    assert "The restriction was lifted" in detail
    assert "restriction lifted" in mine.get("/requests/").content.decode()
    # Its progress is the request's own again: complete, not the lift's steps on top.
    own = restriction.tasks.exclude(action=Action.LIFT).count()
    followed = mine.get(f"/requests/{restriction.reference}/progress/").json()
    assert own and (followed["done"], followed["total"]) == (own, own)
    assert followed["terminal"] is True and followed["lifting"] is False


def test_while_the_stores_lift_it_both_pages_say_it_is_being_lifted(
    compliance_client, customer, restriction, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        _lift(compliance_client, restriction)

    page = compliance_client.get(f"/dashboard/requests/{restriction.reference}/").content.decode()
    assert "restriction being lifted" in page and "waiting for the stores" in page
    # The officer's page follows the stores until every one has lifted it.
    assert 'data-terminal="false"' in page
    progress = f"/dashboard/requests/{restriction.reference}/progress/"
    followed = compliance_client.get(progress).json()
    assert followed["terminal"] is False
    # The progress is the lift's: none of its steps done yet.
    lifts = restriction.tasks.filter(action=Action.LIFT).count()
    assert lifts and (followed["done"], followed["total"]) == (0, lifts)
    person = login(Client(), customer)
    detail = person.get(f"/requests/{restriction.reference}/")
    assert "We are lifting this restriction, as we told you by e-mail on" in (
        detail.content.decode()
    )
    # The person's page follows the lift too, and is drawn again when it is over.
    assert 'data-terminal="false" data-lifting="true"' in detail.content.decode()
    followed = person.get(f"/requests/{restriction.reference}/progress/").json()
    assert followed["terminal"] is False and followed["lifting"] is True
    # Lifting again is refused, and nobody is told twice.
    mail.outbox.clear()
    again = _lift(compliance_client, restriction)
    assert again.status_code == 409
    assert "This restriction is already being lifted." in again.content.decode()
    assert not mail.outbox


@pytest.mark.parametrize(
    "role", ["anonymous", "customer", "other_customer", "support", "officer", "no_csrf"]
)
def test_only_a_compliance_officer_may_lift_a_restriction(
    request, role, customer, restriction, django_capture_on_commit_callbacks
):
    users = {
        "customer": customer,
        "other_customer": "other_customer",
        "support": "support_user",
        "officer": "compliance_user",
        "no_csrf": "compliance_user",
    }
    client = Client(enforce_csrf_checks=role == "no_csrf")
    if role != "anonymous":
        user = users[role]
        user = request.getfixturevalue(user) if isinstance(user, str) else user
        login(client, user, mfa=role not in ("customer", "other_customer"))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=False):
        response = _lift(client, restriction)

    if role == "officer":
        assert response.status_code == 302
        restriction.refresh_from_db()
        assert restriction.restriction_lifting
        return
    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 403
    _nothing_lifted(restriction, customer.email)
    assert REASON not in response.content.decode()


def test_the_lift_is_refused_by_get(compliance_client, restriction):
    url = f"/dashboard/requests/{restriction.reference}/lift-restriction/"
    assert compliance_client.get(url).status_code == 405


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Write why the restriction is lifted"),
        ("   ", "Write why the restriction is lifted"),
        ("\u200b\u2060", "Please remove invisible or control characters"),
        ("Settled\x00", "Null characters are not allowed."),
        ("x" * 2001, "Ensure this value has at most 2000 characters"),
    ],
)
def test_a_lift_without_a_reason_is_refused_with_the_form(
    compliance_client, customer, restriction, reason, message
):
    mail.outbox.clear()
    response = _lift(compliance_client, restriction, reason)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'id="lift-heading"' in response.content.decode()
    _nothing_lifted(restriction, customer.email)


def test_only_a_completed_restriction_can_be_lifted(compliance_client, customer, other_customer):
    in_review = file_request(type="restriction", user=customer)
    access = run_pending_tasks(file_request(type="access", user=other_customer))
    assert access.state == State.COMPLETED
    mail.outbox.clear()

    for target, message in (
        (in_review, "Only a completed restriction can be lifted; this one is “In review”."),
        (access, "Only a restriction of processing can be lifted."),
    ):
        response = _lift(compliance_client, target)
        assert response.status_code == 409
        assert message in response.content.decode()
        target.refresh_from_db()
        assert target.restriction_lift_started_at is None
    assert not mail.outbox
    assert not AuditEvent.objects.filter(action__in=LIFTED).exists()
    assert _lift(compliance_client, in_review).status_code == 409
    missing = compliance_client.post(
        "/dashboard/requests/DSR-2000-999999/lift-restriction/", {"lift-reason": REASON}
    )
    assert missing.status_code == 404


def test_nothing_is_lifted_when_the_person_cannot_be_told(
    compliance_client, customer, restriction, django_capture_on_commit_callbacks
):
    failing = mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=smtplib.SMTPServerDisconnected("gone"),
    )
    with failing, django_capture_on_commit_callbacks(execute=False) as sent:
        response = _lift(compliance_client, restriction)

    assert response.status_code == 503
    assert "could not be sent, so the restriction was not lifted" in response.content.decode()
    assert not sent
    _nothing_lifted(restriction, customer.email)


def test_a_store_that_fails_to_lift_it_is_retried_by_an_officer(
    compliance_client, customer, compliance_user
):
    restriction = _restrict(customer, compliance_user, config={"fail_lifts": 1})
    _lift(compliance_client, restriction)

    restriction = run_pending_tasks(restriction)

    failed = restriction.tasks.get(action=Action.LIFT, store__key="crm")
    assert failed.state == TaskState.FAILED
    assert restriction.restriction_lifting and restricted("crm", customer.email) is True
    page = compliance_client.get(f"/dashboard/requests/{restriction.reference}/").content.decode()
    assert f'action="/dashboard/tasks/{failed.pk}/retry/"' in page

    assert compliance_client.post(f"/dashboard/tasks/{failed.pk}/retry/").status_code == 302
    restriction = run_pending_tasks(restriction)

    assert restricted("crm", customer.email) is False
    assert restriction.restriction_lifted_at is not None
    assert restriction.state == State.COMPLETED


def test_a_restriction_a_store_failed_is_lifted_where_it_was_applied(
    compliance_client, customer, compliance_user
):
    """Partly completed (the CRM refused to restrict): the officer need not retry the CRM
    first. The shop, which restricted the data, lifts it; the CRM's failed step is not
    offered again, for restricting there now would undo the lift the person was told of."""
    add_store("shop", "tests.dsr.connectors.RestrictingConnector")
    add_store("crm", "tests.dsr.connectors.RestrictingConnector", config={"fail_restricts": 1})
    created = file_request(type="restriction", user=customer)
    held = run_pending_tasks(dsr_request_approve(request=created, actor=compliance_user))
    # Held by the failed step; the officer answers the person without it, from the page.
    page = compliance_client.get(f"/dashboard/requests/{held.reference}/").content.decode()
    assert "A step failed: the person has not been answered yet." in page
    answered = compliance_client.post(
        f"/dashboard/requests/{held.reference}/answer-without-failed/", follow=True
    )
    assert "The person is being answered without the failed step." in answered.content.decode()
    partial = run_pending_tasks(held)
    assert partial.state == State.PARTIALLY_COMPLETED
    page = compliance_client.get(f"/dashboard/requests/{held.reference}/").content.decode()
    assert "A step failed: the person has not been answered yet." not in page
    failed = partial.tasks.get(store__key="crm", action=Action.RESTRICT)
    assert failed.state == TaskState.FAILED
    mail.outbox.clear()

    assert _lift(compliance_client, partial).status_code == 302

    assert [m.to for m in mail.outbox] == [[customer.email]]
    lifts = StoreTask.objects.filter(request=partial, action=Action.LIFT)
    assert [task.store.key for task in lifts] == ["shop"]
    page = compliance_client.get(f"/dashboard/requests/{partial.reference}/").content.decode()
    assert f'action="/dashboard/tasks/{failed.pk}/retry/"' not in page
    refused = compliance_client.post(f"/dashboard/tasks/{failed.pk}/retry/")
    assert refused.status_code == 302
    failed.refresh_from_db()
    assert failed.state == TaskState.FAILED and restricted("crm", customer.email) is None

    lifted = run_pending_tasks(partial)

    assert lifted.state == State.PARTIALLY_COMPLETED and lifted.restriction_lifted_at
    assert all(task.state == TaskState.SUCCEEDED for task in lifts.all())
    assert not lifted.subject_snapshot
    mine = login(Client(), customer).get(f"/requests/{partial.reference}/").content.decode()
    assert "We lifted this restriction on" in mine


def test_a_store_without_an_api_gets_a_step_to_lift_it(
    compliance_client, customer, compliance_user
):
    from privacy_portal.permissions import COMPLIANCE_GROUP

    add_store(
        "carrier",
        "dsr.connectors.manual.ManualConnector",
        config={
            "actions": ["restrict"],
            "assigned_group": COMPLIANCE_GROUP,
            "instructions": {"restrict": "Block the customer in the carrier's portal."},
        },
    )
    restriction = run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="restriction", user=customer), actor=compliance_user
        )
    )
    step = restriction.tasks.get(store__key="carrier")
    compliance_client.post(f"/dashboard/tasks/{step.pk}/done/", {f"done-{step.pk}-note": "Done"})
    restriction = run_pending_tasks(restriction)
    assert restriction.state == State.COMPLETED

    _lift(compliance_client, restriction)
    restriction = run_pending_tasks(restriction)

    lift = restriction.tasks.get(store__key="carrier", action=Action.LIFT)
    assert lift.state == TaskState.WAITING and lift.waiting_for == "manual"
    assert "Lift the restriction" in lift.instructions
    assert "Block the customer in the carrier's portal." in lift.instructions
    assert restriction.restriction_lifting
    compliance_client.post(f"/dashboard/tasks/{lift.pk}/done/", {f"done-{lift.pk}-note": "Done"})
    restriction = run_pending_tasks(restriction)
    assert restriction.restriction_lifted_at is not None


def test_the_reconciler_finishes_a_lift_whose_last_message_was_lost(
    compliance_client, customer, restriction, settings
):
    _lift(compliance_client, restriction)
    # Every store lifted it, but the advance after the last one never ran (its worker died
    # between the two: here, the transaction's on-commit work is simply never run).
    for task in restriction.tasks.filter(action=Action.LIFT):
        engine.task_run(task.pk)
    restriction.refresh_from_db()
    assert restriction.restriction_lifting and restricted("crm", customer.email) is False
    settings.DSR_RECONCILE_SECONDS = 0

    engine.reconcile()

    restriction.refresh_from_db()
    assert restriction.restriction_lifted_at is not None


def test_a_restriction_no_store_holds_any_more_is_lifted_once_the_person_is_told(
    compliance_client, customer, restriction
):
    from dsr.models import DataStore

    DataStore.objects.update(enabled=False)  # every store that restricted it, taken out since
    mail.outbox.clear()

    response = _lift(compliance_client, restriction)
    assert response.status_code == 302

    restriction.refresh_from_db()
    assert restriction.restriction_lifted_at is not None
    assert not restriction.tasks.filter(action=Action.LIFT).exists()
    assert [m.to for m in mail.outbox] == [[customer.email]]
    # The officer is told where the data is still restricted, and the audit trail keeps it.
    started = AuditEvent.objects.get(action="dsr.restriction.lift_started")
    assert len(started.after["stores_left"]) == 1 and started.after["stores"] == []
    page = compliance_client.get(response["Location"]).content.decode()
    assert "lift it by hand in Crm." in page


def test_a_redacted_restriction_cannot_be_lifted_for_nobody_could_be_told(
    compliance_client, customer, restriction
):
    from django.utils import timezone

    from dsr.retention import REDACTED_VALUES

    DataSubjectRequest.objects.filter(pk=restriction.pk).update(
        **REDACTED_VALUES, redacted_at=timezone.now()
    )
    mail.outbox.clear()

    response = _lift(compliance_client, restriction)

    assert response.status_code == 409
    assert "so they cannot be told" in response.content.decode()
    _nothing_lifted(restriction, customer.email)


def test_a_restriction_in_force_keeps_its_record_past_the_retention_period(
    compliance_client, customer, restriction
):
    """Requests are redacted two years after they end; a restriction in force has not ended:
    redacted, it could no longer be lifted (nobody to tell, nothing to lift it with)."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from dsr.retention import retention_run

    long_ago = timezone.now() - timedelta(days=settings.DSR_REQUEST_RETENTION_DAYS + 30)
    DataSubjectRequest.objects.filter(pk=restriction.pk).update(
        completed_at=long_ago, received_at=long_ago
    )

    assert retention_run(job="redact_requests").count == 0
    restriction.refresh_from_db()
    assert restriction.redacted_at is None and restriction.email == customer.email

    # Still liftable; once lifted, its record keeps the reason for the period from the lift.
    assert _lift(compliance_client, restriction).status_code == 302
    run_pending_tasks(restriction)
    restriction.refresh_from_db()
    assert restriction.restriction_lifted_at is not None
    assert retention_run(job="redact_requests").count == 0
    DataSubjectRequest.objects.filter(pk=restriction.pk).update(
        restriction_lift_started_at=long_ago, restriction_lifted_at=long_ago
    )
    assert retention_run(job="redact_requests").count == 1
    restriction.refresh_from_db()
    assert restriction.redacted_at is not None and restriction.email == ""


def test_a_restriction_whose_person_was_erased_is_redacted_on_time(
    customer, compliance_user, restriction
):
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from dsr.retention import retention_run

    erasure = file_request(type="erasure", user=customer)
    run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user))
    long_ago = timezone.now() - timedelta(days=settings.DSR_REQUEST_RETENTION_DAYS + 30)
    DataSubjectRequest.objects.filter(pk=restriction.pk).update(
        completed_at=long_ago, received_at=long_ago
    )

    assert retention_run(job="redact_requests").count == 1
    restriction.refresh_from_db()
    assert restriction.redacted_at is not None


def test_the_persons_erasure_takes_the_identities_kept_for_their_restriction(
    customer, compliance_user, restriction
):
    """A restriction keeps the identities it was applied with, to lift it with them; once the
    person's data is erased, there is nothing left to lift them for."""
    assert restriction.snapshot()["email"] == customer.email

    erasure = file_request(type="erasure", user=customer)
    run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user))

    restriction.refresh_from_db()
    assert restriction.subject_snapshot is None


def test_the_persons_erasure_takes_the_identities_kept_for_a_partly_completed_restriction(
    customer, compliance_user
):
    add_store("crm", "tests.dsr.connectors.RestrictingConnector", config={"fail_restricts": 1})
    created = file_request(type="restriction", user=customer)
    partial = answer_without_failed(
        run_pending_tasks(dsr_request_approve(request=created, actor=compliance_user))
    )
    assert partial.state == State.PARTIALLY_COMPLETED and partial.subject_snapshot

    erasure = file_request(type="erasure", user=customer)
    run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user))

    partial.refresh_from_db()
    assert partial.subject_snapshot is None


def test_a_restriction_being_lifted_keeps_its_record_until_the_lift_is_over_and_its_time_passed(
    compliance_client, customer, compliance_user, settings
):
    """The retention job redacts a request's record some time after it ended; a restriction
    whose lift starts near the end of that time must still be lifted with the identities it
    was applied with, and its record, with the reason the person was told, is kept as long
    after the lift as any other."""
    from datetime import timedelta

    from django.utils import timezone

    from dsr.retention import retention_run

    restriction = _restrict(customer, compliance_user, config={"fail_lifts": 1})
    ended_long_ago = timezone.now() - timedelta(days=settings.DSR_REQUEST_RETENTION_DAYS - 1)
    DataSubjectRequest.objects.filter(pk=restriction.pk).update(completed_at=ended_long_ago)
    _lift(compliance_client, restriction)
    restriction = run_pending_tasks(restriction)
    failed = restriction.tasks.get(action=Action.LIFT, store__key="crm")
    assert failed.state == TaskState.FAILED  # the CRM is down: the lift waits for a retry

    # Two days later, while the CRM still holds the data restricted.
    later = timezone.now() + timedelta(days=2)
    retention_run(job="redact_requests", now=later)

    restriction.refresh_from_db()
    assert restriction.redacted_at is None and restriction.email == customer.email
    assert restriction.restriction_lift_reason == REASON
    assert compliance_client.post(f"/dashboard/tasks/{failed.pk}/retry/").status_code == 302
    restriction = run_pending_tasks(restriction)
    assert restricted("crm", customer.email) is False
    assert restriction.restriction_lifted_at is not None

    # Lifted now: its record is kept for the retention period from the lift, then redacted.
    retention_run(job="redact_requests", now=later)
    restriction.refresh_from_db()
    assert restriction.redacted_at is None and restriction.restriction_lift_reason == REASON
    gone = timezone.now() + timedelta(days=settings.DSR_REQUEST_RETENTION_DAYS + 1)
    retention_run(job="redact_requests", now=gone)
    restriction.refresh_from_db()
    assert restriction.redacted_at is not None and restriction.restriction_lift_reason == ""


def test_lifting_an_old_restriction_leaves_a_newer_one_of_the_person_in_force(
    compliance_client, customer, compliance_user
):
    """Told that their restriction is being lifted, the person asks again, and their new
    restriction is carried out while a store has yet to lift the old one (it was down): the
    officer's retry of that store's lift must not undo the new restriction there."""
    old = _restrict(customer, compliance_user, config={"fail_lifts": 1})
    _lift(compliance_client, old)
    old = run_pending_tasks(old)
    failed = old.tasks.get(action=Action.LIFT, store__key="crm")
    assert failed.state == TaskState.FAILED and restricted("crm", customer.email) is True

    new = run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="restriction", user=customer), actor=compliance_user
        )
    )
    assert new.state == State.COMPLETED and restricted("crm", customer.email) is True
    assert compliance_client.post(f"/dashboard/tasks/{failed.pk}/retry/").status_code == 302
    old = run_pending_tasks(old)

    # The old restriction is lifted; the store still holds the data restricted, for the new one.
    assert old.restriction_lifted_at is not None
    assert restricted("crm", customer.email) is True
    failed.refresh_from_db()
    assert failed.state == TaskState.SUCCEEDED
    assert failed.receipt == {"lifted": False, "kept_for": new.reference}
    page = compliance_client.get(f"/dashboard/requests/{old.reference}/").content.decode()
    assert f"the person's request {new.reference} still holds it" in page
    # Once the new one is lifted too, the store lifts it.
    _lift(compliance_client, new)
    new = run_pending_tasks(new)
    assert new.restriction_lifted_at is not None and restricted("crm", customer.email) is False


def test_lifting_a_restriction_leaves_a_standing_objection_in_force(
    compliance_client, customer, compliance_user
):
    """The person objected to transfers abroad, and the group CRM restricted their data for
    it; later they restricted processing and the officer lifts that restriction: the CRM keeps
    the mark, as their objection still stands."""
    objection = _objected(customer)
    assert objection.tasks.get(store__key="crm").action == Action.RESTRICT
    assert restricted("crm", customer.email) is True
    restriction = run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="restriction", user=customer), actor=compliance_user
        )
    )
    assert restriction.state == State.COMPLETED

    _lift(compliance_client, restriction)
    restriction = run_pending_tasks(restriction)

    assert restriction.restriction_lifted_at is not None
    assert restricted("crm", customer.email) is True
    lift = restriction.tasks.get(action=Action.LIFT, store__key="crm")
    assert lift.receipt == {"lifted": False, "kept_for": objection.reference}
    page = compliance_client.get(f"/dashboard/requests/{restriction.reference}/").content.decode()
    assert f"the person's request {objection.reference} still holds it" in page


def test_an_objection_taken_back_no_longer_keeps_a_store_restricted(
    compliance_client, customer, compliance_user
):
    """The person objected, then switched the use on again: their objection holds nothing
    any more, and lifting their later restriction lifts the store's mark."""
    from tests.consent.conftest import record

    _objected(customer)
    record(customer, "international_transfers", True, source="preference_centre")
    restriction = run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="restriction", user=customer), actor=compliance_user
        )
    )

    _lift(compliance_client, restriction)
    restriction = run_pending_tasks(restriction)

    assert restricted("crm", customer.email) is False
    assert "kept_for" not in restriction.tasks.get(action=Action.LIFT, store__key="crm").receipt


def test_switching_a_use_on_again_lifts_the_marks_the_objection_to_it_set(
    compliance_client, customer, compliance_user
):
    """The person objected to transfers abroad and the group CRM restricted their record; they
    switch transfers on again in their privacy choices: the CRM lifts its mark, at once and
    without a review or an e-mail first (the objection was theirs to take back)."""
    objection = _objected(customer)
    assert restricted("crm", customer.email) is True
    sent = len(mail.outbox)
    client = login(Client(), customer)

    answer = client.post("/privacy/choices/international_transfers/", {"granted": "on"})
    said = " ".join(str(m) for m in get_messages(answer.wsgi_request))
    assert objection.reference in said
    objection = run_pending_tasks(objection)

    assert restricted("crm", customer.email) is False
    assert objection.restriction_lifted_at is not None and objection.state == State.COMPLETED
    started = AuditEvent.objects.get(action="dsr.objection.lift_started")
    assert started.actor_id == customer.pk and started.after["stores"]
    assert len(mail.outbox) == sent
    mine = client.get(f"/requests/{objection.reference}/").content.decode()
    assert "You switched this use on again on" in mine
    assert "may use your data for it again" in mine and "as we told you" not in mine
    theirs = compliance_client.get(f"/dashboard/requests/{objection.reference}/").content.decode()
    assert "The person switched the use on again on" in theirs and "Person told" not in theirs

    # Switched on once more after being switched off and on: nothing left to lift.
    client.post("/privacy/choices/international_transfers/", {"granted": "on"})
    assert objection.tasks.filter(action=Action.LIFT).count() == 1


def test_the_reconciler_finishes_an_objections_lift_whose_last_message_was_lost(customer, settings):
    objection = _objected(customer)
    login(Client(), customer).post("/privacy/choices/international_transfers/", {"granted": "on"})
    for task in objection.tasks.filter(action=Action.LIFT):
        engine.task_run(task.pk)
    objection.refresh_from_db()
    assert objection.restriction_lifting and restricted("crm", customer.email) is False
    settings.DSR_RECONCILE_SECONDS = 0

    engine.reconcile()

    objection.refresh_from_db()
    assert objection.restriction_lifted_at is not None
    assert AuditEvent.objects.filter(action="dsr.objection.lifted").exists()


def test_a_use_switched_on_again_before_its_objection_is_done_is_lifted_once_it_is(
    customer, compliance_user
):
    """The objection still waits for a staff step when the person switches the use on again:
    once the step is done, what the objection restricted is lifted at once."""
    from dsr.stores import manual_step_complete
    from privacy_portal.permissions import COMPLIANCE_GROUP

    add_store(
        "analytics",
        "dsr.connectors.manual.ManualConnector",
        config={
            "actions": ["restrict"],
            "assigned_group": COMPLIANCE_GROUP,
            "purpose_keys": ["international_transfers"],
            "instructions": {"restrict": "Exclude the user id."},
        },
    )
    objection = _objected(customer)
    assert objection.state == State.WAITING and restricted("crm", customer.email) is True
    answer = login(Client(), customer).post(
        "/privacy/choices/international_transfers/", {"granted": "on"}
    )
    assert not objection.tasks.filter(action=Action.LIFT).exists()
    # The person is told what happens to the objection still running.
    said = " ".join(str(m) for m in get_messages(answer.wsgi_request))
    assert f"Request {objection.reference} is already being carried out: once it is done" in said

    step = objection.tasks.get(store__key="analytics", action=Action.RESTRICT)
    manual_step_complete(task=step, actor=compliance_user, note="Excluded.")
    objection = run_pending_tasks(run_pending_tasks(objection))  # completed; then the lift

    assert objection.state == State.COMPLETED
    assert objection.restriction_lift_started_at is not None
    assert restricted("crm", customer.email) is False
    undo = objection.tasks.get(store__key="analytics", action=Action.LIFT)
    assert undo.waiting_for == "manual"  # staff undo their step


def test_an_objection_done_while_the_use_is_still_off_keeps_its_marks(customer):
    objection = _objected(customer)
    assert objection.state == State.COMPLETED and objection.restriction_lift_started_at is None
    assert restricted("crm", customer.email) is True


def test_switching_a_use_on_again_leaves_a_mark_that_a_restriction_still_holds(
    customer, compliance_user
):
    objection = _objected(customer)
    restriction = run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="restriction", user=customer), actor=compliance_user
        )
    )
    client = login(Client(), customer)
    client.post("/privacy/choices/international_transfers/", {"granted": "on"})
    objection = run_pending_tasks(objection)

    assert restricted("crm", customer.email) is True
    lift = objection.tasks.get(action=Action.LIFT, store__key="crm")
    assert lift.receipt == {"lifted": False, "kept_for": restriction.reference}


def test_a_choice_support_records_for_the_person_lifts_no_objection(support_client, customer):
    """Anyone can phone: giving a use back, as taking it away, is the person's own doing."""
    _objected(customer)
    support_client.post(
        "/admin/consent/consentstate/record/",
        {
            "email": customer.email,
            "purpose": "international_transfers",
            "decision": "grant",
            "received_via": "phone",
        },
    )
    assert restricted("crm", customer.email) is True
    assert not StoreTask.objects.filter(action=Action.LIFT).exists()


def test_a_restriction_of_a_person_whose_data_was_erased_since_is_not_lifted(
    compliance_client, customer, compliance_user, restriction
):
    """Their data is gone: nothing is left to lift, and the address kept with the request's
    record for proof is not used to write to them about it."""
    erasure = file_request(type="erasure", user=customer)
    run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user))
    page = compliance_client.get(f"/dashboard/requests/{restriction.reference}/").content.decode()
    assert 'id="lift-heading"' not in page
    mail.outbox.clear()

    response = _lift(compliance_client, restriction)

    assert response.status_code == 409
    assert "was erased since" in response.content.decode()
    restriction.refresh_from_db()
    assert restriction.restriction_lift_started_at is None
    assert not restriction.tasks.filter(action=Action.LIFT).exists()
    assert not [m for m in mail.outbox if m.to == [customer.email]]
    assert not AuditEvent.objects.filter(action__in=LIFTED).exists()


def test_the_person_reads_where_their_restriction_does_not_apply(customer, compliance_user):
    """A store that can neither restrict nor be told of a restriction (photos here) takes no
    step: the person's page says the restriction does not apply there. The portal's own
    records (sign-in, requests, proof of choices) are not restricted either, and it says so;
    it names no store that restricted the data."""
    from tests.conftest import login

    add_store("photos", "tests.dsr.connectors.StaffStepConnector", name="Photo uploads")
    done = _restrict(customer, compliance_user)

    page = login(Client(), customer).get(f"/requests/{done.reference}/").content.decode()
    section = page.split("Where the restriction does not apply", 1)[1].split("</section>", 1)[0]
    assert "<li>Photo uploads</li>" in section and "<li>Inper Privacy Portal</li>" in section
    assert "Crm" not in section
    assert not done.tasks.filter(store__key="portal").exists()
