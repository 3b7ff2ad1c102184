"""Retention: each job's dry run changes nothing, each real run is recorded and audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from dsr.connectors.base import Connector, RetentionRun
from dsr.models import DataSubjectRequest, ExportPackage, RequestNote, RetentionJobRun, State
from dsr.retention import retention_run
from privacy_portal.audit.models import AuditEvent
from tests.dsr.helpers import add_store

pytestmark = pytest.mark.django_db


class RetentionStore(Connector):
    """A store whose rule deletes three old records (and counts them in a dry run), or finds
    nothing due with ``config["nothing_due"]``."""

    kind: ClassVar[str] = "test-retention"
    supports: ClassVar[frozenset[str]] = frozenset()
    applied: ClassVar[list[bool]] = []

    def apply_retention(self, *, now: datetime, dry_run: bool = False) -> RetentionRun:
        if not dry_run:
            self.applied.append(True)
        if self.config.get("nothing_due"):
            return RetentionRun(dry_run=dry_run)
        return RetentionRun(deleted={"old_orders": 3}, anonymised={"reviews": 1}, dry_run=dry_run)


def _age(request, days):
    """Pretend the request ended ``days`` ago."""
    ended = timezone.now() - timedelta(days=days)
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        completed_at=ended, received_at=ended - timedelta(days=3)
    )


def test_old_request_records_are_redacted_and_recent_ones_kept(
    completed_access, erasure, compliance_user
):
    from dsr.dashboard.services import dsr_request_note_add

    dsr_request_note_add(request=completed_access, actor=compliance_user, body="Called +49 1")
    retention_days = django_settings.DSR_REQUEST_RETENTION_DAYS
    _age(completed_access, retention_days + 1)
    old_email = completed_access.email
    # Its copy was never finished: no expiry purges it, so its key would stay for ever.
    ExportPackage.objects.filter(request=completed_access).update(built_at=None, expires_at=None)

    dry = retention_run(job="redact_requests", dry_run=True)
    assert dry.ok and dry.count == 1 and dry.report["requests"] == [completed_access.reference]
    completed_access.refresh_from_db()
    assert completed_access.email == old_email  # a dry run changes nothing
    assert not AuditEvent.objects.filter(action="dsr.request.redacted").exists()

    run = retention_run(job="redact_requests")

    assert run.ok and run.count == 1
    completed_access.refresh_from_db()
    assert completed_access.redacted_at is not None
    assert (completed_access.email, completed_access.full_name, completed_access.subject_key) == (
        "",
        "",
        "",
    )
    assert completed_access.user_id is None and completed_access.subject_snapshot is None
    # What the statistics need stays.
    assert completed_access.state == State.COMPLETED and completed_access.type == "access"
    assert completed_access.completed_at and completed_access.received_at
    assert RequestNote.objects.get(request=completed_access).body == ""
    package = ExportPackage.objects.get(request=completed_access)
    assert package.purged_at is not None and bytes(package.key_encrypted) == b""
    erasure.refresh_from_db()
    assert erasure.email and erasure.redacted_at is None  # open: kept
    event = AuditEvent.objects.get(action="dsr.request.redacted")
    assert event.scope == f"dsr.datasubjectrequest:{completed_access.pk}"
    job = AuditEvent.objects.get(action="retention.job.ran")
    assert job.after == {"job": "redact_requests", "count": 1, "ok": True}
    assert old_email not in str(run.report)
    # Running again finds nothing more.
    assert retention_run(job="redact_requests").count == 0


def test_expired_packages_are_purged(completed_access):
    package = ExportPackage.objects.get(request=completed_access)
    ExportPackage.objects.filter(pk=package.pk).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    assert retention_run(job="purge_packages", dry_run=True).report["packages"] == [package.pk]
    package.refresh_from_db()
    assert package.purged_at is None
    run = retention_run(job="purge_packages")
    package.refresh_from_db()
    assert run.count == 1 and package.purged_at is not None and package.storage_name == ""


def test_unconfirmed_requests_are_closed(guest_access):
    DataSubjectRequest.objects.filter(pk=guest_access.pk).update(
        verification_sent_at=timezone.now() - timedelta(days=30)
    )
    assert retention_run(job="close_unverified", dry_run=True).count == 1
    guest_access.refresh_from_db()
    assert guest_access.state == State.AWAITING_IDENTITY
    retention_run(job="close_unverified")
    guest_access.refresh_from_db()
    assert guest_access.state == State.CLOSED_UNVERIFIED


@pytest.fixture
def retention_connector(settings):
    settings.DSR_CONNECTORS = {
        **settings.DSR_CONNECTORS,
        "test-retention": "tests.dashboard.test_retention.RetentionStore",
    }


def test_each_stores_rule_is_applied_and_audited(retention_connector):
    store = add_store("shop", "tests.dashboard.test_retention.RetentionStore", name="Shop")
    RetentionStore.applied.clear()

    dry = retention_run(job="store_retention", dry_run=True)
    assert dry.report["stores"]["shop"]["deleted"] == {"old_orders": 3}
    assert dry.report["stores"]["portal"]["state"] == "skipped"  # no rule of its own
    assert RetentionStore.applied == []

    run = retention_run(job="store_retention")
    assert run.ok and run.count == 4 and RetentionStore.applied == [True]
    applied = AuditEvent.objects.get(action="retention.store.applied")
    assert applied.object_id == str(store.pk)
    assert applied.after == {"deleted": {"old_orders": 3}, "anonymised": {"reviews": 1}}


def test_a_store_with_nothing_due_says_so_on_the_page(retention_connector, compliance_client):
    add_store(
        "shop",
        "tests.dashboard.test_retention.RetentionStore",
        name="Shop",
        config={"nothing_due": True},
    )
    retention_run(job="store_retention", dry_run=True)

    page = compliance_client.get("/dashboard/retention/").content.decode()

    assert "<div>Shop: nothing due</div>" in page
    assert "<div>Inper Privacy Portal: no retention rule</div>" in page


def test_the_runs_name_stores_and_records_in_the_readers_language(
    retention_connector, compliance_client, compliance_user
):
    """The report keeps keys (and the name of the day); the page says them in words, in the
    officer's language, as the store's configuration names them now."""
    add_store(
        "shop",
        "tests.dashboard.test_retention.RetentionStore",
        name="Shop",
        config={
            "names": {"en": "Shop", "de": "Onlineshop"},
            "entity_names": {"old_orders": {"en": "old orders", "de": "alte Bestellungen"}},
        },
    )
    retention_run(job="store_retention", dry_run=True)

    page = compliance_client.get("/dashboard/retention/").content.decode()
    assert "<div>Shop: old orders: 3 deleted; reviews: 1 anonymised</div>" in page

    compliance_user.preferred_language = "de"
    compliance_user.save(update_fields=["preferred_language"])
    page = compliance_client.get(
        "/dashboard/retention/", HTTP_ACCEPT_LANGUAGE="de"
    ).content.decode()
    assert "<div>Onlineshop: alte Bestellungen: 3 gelöscht; reviews: 1 anonymisiert</div>" in page


def test_a_store_that_fails_marks_the_run_failed_and_the_others_still_run(settings):
    add_store("broken", "no.such.Connector", name="Broken")
    run = retention_run(job="store_retention")
    assert run.ok is False
    assert run.report["stores"]["broken"]["state"] == "failed"
    assert run.report["stores"]["portal"]["state"] == "skipped"


def test_the_command_dry_runs_every_job(capsys, completed_access):
    _age(completed_access, django_settings.DSR_REQUEST_RETENTION_DAYS + 1)
    call_command("retention", "--dry-run")
    out = capsys.readouterr().out
    assert "redact_requests: would change 1" in out and "purge_packages: would change 0" in out
    assert RetentionJobRun.objects.filter(dry_run=True).count() == 4
    completed_access.refresh_from_db()
    assert completed_access.redacted_at is None
    call_command("retention", "--job", "redact_requests")
    completed_access.refresh_from_db()
    assert completed_access.redacted_at is not None


def test_beat_runs_every_job():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    jobs = {
        entry.get("args", ("purge_packages",))[0]
        for entry in schedule.values()
        if entry["task"] in ("dsr.tasks.retention_job_task", "dsr.tasks.purge_packages_task")
    }
    assert jobs == {"purge_packages", "close_unverified", "redact_requests", "store_retention"}


def test_the_page_shows_the_last_runs_and_starts_a_dry_run(
    compliance_client, django_capture_on_commit_callbacks
):
    retention_run(job="purge_packages")
    page = compliance_client.get("/dashboard/retention/").content.decode()
    assert "Purge expired export packages" in page and "0 records changed" in page
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = compliance_client.post(
            "/dashboard/retention/redact_requests/dry-run/", follow=True
        )
    assert len(callbacks) == 1 and "A dry run" in response.content.decode()
    assert compliance_client.post("/dashboard/retention/nothing/dry-run/").status_code == 404


@pytest.mark.worker
def test_a_dry_run_from_the_page_runs_on_a_real_worker(celery_worker, compliance_user):
    from django.test import Client

    from tests.conftest import login
    from tests.worker import wait_until

    client = login(Client(), compliance_user, mfa=True)
    client.post("/dashboard/retention/store_retention/dry-run/")
    run = wait_until(
        lambda: RetentionJobRun.objects.filter(job="store_retention", dry_run=True).first(),
        message="the worker's dry run",
    )
    assert run.actor_id == compliance_user.pk
    wait_until(lambda: RetentionJobRun.objects.get(pk=run.pk).finished_at, message="its end")
