"""Periodic work: reminders, closing unverified requests, deadline warnings, re-applying
erasures after a backup restore."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from dsr import maintenance
from dsr.models import DataSubjectRequest, ErasureRecord, State
from dsr.services import dsr_request_approve
from tests.dsr.helpers import file_request, run_pending_tasks
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _guest(email: str = "guest@example.com") -> DataSubjectRequest:
    return file_request(type="erasure", email=email, channel="portal_guest")


def test_a_reminder_goes_out_once_after_a_day(django_capture_on_commit_callbacks):
    request = _guest()
    DataSubjectRequest.objects.update(verification_sent_at=timezone.now() - timedelta(hours=25))
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.verification_reminders() == [request.reference]
        assert maintenance.verification_reminders() == []
    reminders = [m for m in mail.outbox if m.subject.startswith("Reminder")]
    assert len(reminders) == 1 and "/requests/verify/" in reminders[0].body


def test_no_reminder_goes_to_someone_who_confirmed_while_the_reminders_went_out(
    monkeypatch, django_capture_on_commit_callbacks
):
    first, second = _guest("first@example.com"), _guest("second@example.com")
    DataSubjectRequest.objects.update(verification_sent_at=timezone.now() - timedelta(hours=25))
    send = maintenance.notifications.verification_link

    confirmed = []

    def confirmed_meanwhile(request, **kwargs):
        # While the first reminder goes out, the other person follows their link.
        if not confirmed:
            other = second if request.pk == first.pk else first
            DataSubjectRequest.objects.filter(pk=other.pk).update(
                state=State.VERIFIED, verification_nonce=""
            )
            confirmed.append(other.email)
        send(request, **kwargs)

    monkeypatch.setattr(maintenance.notifications, "verification_link", confirmed_meanwhile)
    with django_capture_on_commit_callbacks(execute=True):
        maintenance.verification_reminders()
    reminded = {m.to[0] for m in mail.outbox if m.subject.startswith("Reminder")}
    assert reminded == {"first@example.com", "second@example.com"} - set(confirmed)
    assert len(reminded) == 1


def test_requests_never_confirmed_are_closed_after_the_link_expires():
    fresh = _guest("fresh@example.com")
    stale = _guest("stale@example.com")
    DataSubjectRequest.objects.filter(pk=stale.pk).update(
        verification_sent_at=timezone.now() - timedelta(days=8)
    )
    assert maintenance.close_unverified(dry_run=True) == [stale.reference]
    assert maintenance.close_unverified() == [stale.reference]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.state == State.CLOSED_UNVERIFIED and stale.snapshot() == {}
    assert fresh.state == State.AWAITING_IDENTITY


def test_officers_are_warned_of_requests_due_within_a_week(
    compliance_user, customer, django_capture_on_commit_callbacks
):
    request = file_request(type="erasure", user=customer)
    DataSubjectRequest.objects.update(due_at=timezone.now() + timedelta(days=3))
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.warn_due_soon() == [request.reference]
        assert maintenance.warn_due_soon() == []  # once a day
    warning = next(m for m in mail.outbox if m.to == [compliance_user.email])
    assert request.reference in warning.body and customer.email not in warning.body
    assert "overdue" not in warning.body and warning.subject.endswith("due within 7 days")


def test_the_daily_warning_names_overdue_requests_as_such_in_every_open_state(
    compliance_user, customer, other_customer, django_capture_on_commit_callbacks
):
    late = file_request(type="access", user=customer)  # received, not yet looked at
    soon = dsr_request_approve(
        request=file_request(type="erasure", user=other_customer), actor=compliance_user
    )
    far = file_request(type="restriction", user=customer)
    now = timezone.now()
    DataSubjectRequest.objects.filter(pk=late.pk).update(
        due_at=now - timedelta(days=4), state=State.RECEIVED
    )
    DataSubjectRequest.objects.filter(pk=soon.pk).update(
        due_at=now + timedelta(days=2), state=State.APPROVED
    )
    DataSubjectRequest.objects.filter(pk=far.pk).update(due_at=now + timedelta(days=20))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.warn_due_soon() == [late.reference, soon.reference]
    (warning,) = [m for m in mail.outbox if m.to == [compliance_user.email]]
    overdue, due = warning.body.split("These open requests are due within 7 days:")
    assert "These open requests are overdue:" in overdue and late.reference in overdue
    assert "was due on" in overdue and soon.reference not in overdue
    assert soon.reference in due and far.reference not in warning.body
    assert warning.subject.endswith("Privacy requests overdue or due within 7 days")


def test_erasures_are_reapplied_after_a_backup_restore(customer, compliance_user):
    email = customer.email
    request = run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="erasure", user=customer), actor=compliance_user
        )
    )
    assert request.state == State.COMPLETED and ErasureRecord.objects.count() == 1

    # A backup from before the erasure is restored: the account is back.
    restored = UserFactory(email=email, date_joined=customer.date_joined)
    other = UserFactory(email="unrelated@example.com")
    out = StringIO()
    call_command("reapply_erasures", "--dry-run", stdout=out)
    assert "portal: would erase 1 people" in out.getvalue()
    assert User.objects.filter(pk=restored.pk).exists()

    call_command("reapply_erasures", stdout=StringIO())
    assert not User.objects.filter(pk=restored.pk).exists()
    assert User.objects.filter(pk=other.pk).exists()


def test_reapplying_erasures_spares_an_account_the_person_opened_again(customer, compliance_user):
    """A closed account gives up its address at once: the person may sign up again with it
    before (or after) the erasure completes, and a restore must not erase that new account."""
    from accounts.services import account_close

    email = customer.email
    account_close(user=customer, actor=customer)
    request = dsr_request_approve(
        request=DataSubjectRequest.objects.get(user=customer), actor=compliance_user
    )
    came_back = UserFactory(email=email)  # signed up again while the erasure waited
    assert run_pending_tasks(request).state == State.COMPLETED
    assert User.objects.filter(pk=came_back.pk).exists()

    # A backup from between the closure and the erasure is restored: the closed account is
    # back, under its placeholder address, beside the new one.
    restored = UserFactory(
        pk=customer.pk,
        email=f"closed-{customer.pk}@closed.invalid",
        date_joined=customer.date_joined,
    )
    out = StringIO()
    call_command("reapply_erasures", "--dry-run", stdout=out)
    assert "portal: would erase 1 people" in out.getvalue()
    call_command("reapply_erasures", stdout=StringIO())
    assert not User.objects.filter(pk=restored.pk).exists()
    assert User.objects.filter(pk=came_back.pk, email=email).exists()


def test_a_tampered_erasure_record_is_reported_and_skipped(customer, compliance_user, postgres):
    from django.db import connection

    run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="erasure", user=customer), actor=compliance_user
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE dsr_erasurerecord SET identity_hashes = '{}'")
        cursor.execute("SET session_replication_role = DEFAULT")
    err = StringIO()
    with pytest.raises(CommandError, match="Not every erasure could be re-applied"):
        call_command("reapply_erasures", "--dry-run", stdout=StringIO(), stderr=err)
    assert "broken signature" in err.getvalue()


def test_the_portals_retention_rule_says_what_it_does_with_records_of_choices():
    """Records of privacy choices are append-only proof: the rule no longer promises their
    deletion after 24 months; an installation that showed that rule is given the true one,
    one an administrator rewrote is left alone."""
    import importlib

    from django.apps import apps

    from dsr.models import DataStore
    from dsr.portal_store import PORTAL_STORE_KEY, RETENTION_RULE

    migration = importlib.import_module("dsr.migrations.0013_portal_retention_rule_as_kept")
    portal = DataStore.objects.get(key=PORTAL_STORE_KEY)
    assert portal.retention_rule == RETENTION_RULE == migration.AFTER
    assert "24 months" not in RETENTION_RULE.split("; ")[2]
    DataStore.objects.filter(pk=portal.pk).update(retention_rule=migration.BEFORE)
    migration.forwards(apps, None)
    portal.refresh_from_db()
    assert portal.retention_rule == RETENTION_RULE
    DataStore.objects.filter(pk=portal.pk).update(retention_rule="Our own words.")
    migration.forwards(apps, None)
    portal.refresh_from_db()
    assert portal.retention_rule == "Our own words."
