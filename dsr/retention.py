"""Retention: the jobs that keep nothing longer than it is needed.

- ``purge_packages``: delete expired export packages (file and key);
- ``close_unverified``: close requests whose e-mail was never confirmed;
- ``redact_requests``: redact request records ``DSR_REQUEST_RETENTION_DAYS`` after they
  ended (the person's address, name, details and identities go; ids, dates, types and states
  stay for the statistics);
- ``store_retention``: apply each registered store's own retention rule (``apply_retention``).

Beat runs each on a schedule; ``manage.py retention`` and the dashboard run them by hand. Every
job can run as a dry run that only reports what it would do. Every run is recorded as a
:class:`~dsr.models.RetentionJobRun`, and every real run is audited (as is each record it
changes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from django_stubs_ext import StrOrPromise

from privacy_portal.audit.services import audit_record

from . import maintenance, packages
from .connectors.base import Connector, StoreError, error_detail, error_text
from .connectors.registry import connector_for
from .models import (
    LIFTABLE_STATES,
    TERMINAL_STATES,
    DataStore,
    DataSubjectRequest,
    ExportPackage,
    RequestNote,
    RequestType,
    RetentionJobRun,
    StoreTask,
)
from .portal_store import PORTAL_STORE_KEY

logger = logging.getLogger(__name__)

Report = dict[str, Any]
#: How many request records one transaction redacts.
REDACT_BATCH = 500
#: How many references or ids a run's report lists (the count is always complete).
REPORT_LIMIT = 200


# --- redacting request records ------------------------------------------------------------------

#: What redaction sets on a request: everything about the person goes; ids, type, regime,
#: channel, states, outcomes, reasons (codes) and dates stay for statistics and proof.
REDACTED_VALUES: dict[str, Any] = {
    "email": "",
    "full_name": "",
    "details": "",
    "subject_snapshot": None,
    "subject_key": "",
    "country": "",
    "user": None,
    "identity_note": "",
    "rejection_note": "",
    "extension_reason": "",
    "restriction_lift_reason": "",
    "verification_nonce": "",
}


def requests_to_redact(now: datetime) -> QuerySet[DataSubjectRequest]:
    """Return the finished requests whose retention period is over and that still hold the
    person's details. A restriction in force has not ended: it keeps the identities it is
    lifted with until an officer lifts it (or the person's erasure takes them); one being
    lifted keeps them for its stores, and one lifted is kept, with the reason the person was
    told, for the period from its lift."""
    cutoff = now - timedelta(days=settings.DSR_REQUEST_RETENTION_DAYS)
    in_force = Q(
        type=RequestType.RESTRICTION,
        state__in=LIFTABLE_STATES,
        restriction_lift_started_at__isnull=True,
        subject_snapshot__isnull=False,
    )
    return DataSubjectRequest.objects.filter(
        Q(completed_at__lt=cutoff) | Q(completed_at__isnull=True, received_at__lt=cutoff),
        Q(restriction_lift_started_at__isnull=True) | Q(restriction_lifted_at__lt=cutoff),
        ~in_force,
        state__in=[s.value for s in TERMINAL_STATES],
        redacted_at__isnull=True,
    )


def dsr_requests_redact(*, now: datetime, actor: Any = None, limit: int | None = None) -> list[int]:
    """Redact the requests whose retention period is over, a batch per transaction (set-based
    updates, an audit event per request); return their ids. Internal notes, manual-step notes
    and evidence files of those requests go too."""
    redacted: list[int] = []
    while limit is None or len(redacted) < limit:
        size = REDACT_BATCH if limit is None else min(REDACT_BATCH, limit - len(redacted))
        with transaction.atomic():
            ids = list(
                requests_to_redact(now)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:size]
            )
            if not ids:
                break
            DataSubjectRequest.objects.filter(pk__in=ids).update(
                **REDACTED_VALUES, redacted_at=now, updated_at=now
            )
            RequestNote.objects.filter(request_id__in=ids).update(body="")
            tasks = StoreTask.objects.filter(request_id__in=ids)
            files = [name for name in tasks.values_list("evidence", flat=True) if name]
            tasks.update(note="", instructions="", evidence="")
            # A copy never finished (a request that failed) still has its key and its parts.
            packages.packages_discard(ExportPackage.objects.filter(request_id__in=ids), now=now)
            for pk in ids:
                audit_record(
                    actor=actor,
                    action="dsr.request.redacted",
                    target=("dsr.datasubjectrequest", str(pk)),
                    reason="retention_period_over",
                )
            transaction.on_commit(lambda files=files: _delete_files(files))  # type: ignore[misc]
        redacted.extend(ids)
    return redacted


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("evidence file could not be deleted")


# --- the jobs -----------------------------------------------------------------------------------


def _purge_packages(now: datetime, dry_run: bool, actor: Any) -> Report:
    ids = packages.package_purge_expired(now=now, dry_run=dry_run)
    return {"count": len(ids), "packages": ids[:REPORT_LIMIT]}


def _close_unverified(now: datetime, dry_run: bool, actor: Any) -> Report:
    references = maintenance.close_unverified(dry_run=dry_run)
    return {"count": len(references), "requests": references[:REPORT_LIMIT]}


def _redact_requests(now: datetime, dry_run: bool, actor: Any) -> Report:
    if dry_run:
        due = requests_to_redact(now)
        references = list(due.order_by("pk").values_list("reference", flat=True)[:REPORT_LIMIT])
        return {"count": due.count(), "requests": references}
    ids = dsr_requests_redact(now=now, actor=actor)
    references = list(
        DataSubjectRequest.objects.filter(pk__in=ids[:REPORT_LIMIT])
        .order_by("pk")
        .values_list("reference", flat=True)
    )
    return {"count": len(ids), "requests": references}


def _has_retention_rule(connector: Connector) -> bool:
    return type(connector).apply_retention is not Connector.apply_retention


def _store_retention(now: datetime, dry_run: bool, actor: Any) -> Report:
    stores: dict[str, Any] = {}
    total = 0
    failed = 0
    for store in DataStore.objects.filter(enabled=True).order_by("position", "name"):
        entry: dict[str, Any] = {"name": store.name}
        try:
            connector = connector_for(store)
            if not _has_retention_rule(connector):
                # A rule stated to people that this job cannot carry out is said so: the
                # store (or staff) must keep it.
                stores[store.key] = {
                    **entry,
                    "state": "skipped",
                    # The portal's own rule is kept by the other jobs (requests redacted,
                    # copies purged) and by erasures of closed accounts.
                    "stated_rule": bool(store.retention_rule.strip())
                    and store.key != PORTAL_STORE_KEY,
                }
                continue
            result = connector.apply_retention(now=now, dry_run=dry_run)
        except StoreError as error:
            failed += 1
            stores[store.key] = {**entry, "state": "failed", "error": error.detail}
            continue
        deleted = {str(k): int(v) for k, v in result.deleted.items()}
        anonymised = {str(k): int(v) for k, v in result.anonymised.items()}
        count = sum(deleted.values()) + sum(anonymised.values())
        total += count
        stores[store.key] = {**entry, "state": "done", "deleted": deleted, "anonymised": anonymised}
        if not dry_run:
            audit_record(
                actor=actor,
                action="retention.store.applied",
                target=store,
                after={"deleted": deleted, "anonymised": anonymised},
            )
    return {"count": total, "stores": stores, "failed": failed}


@dataclass(frozen=True)
class Job:
    key: str
    label: StrOrPromise
    description: StrOrPromise
    run: Callable[[datetime, bool, Any], Report]


JOBS: dict[str, Job] = {
    job.key: job
    for job in (
        Job(
            "purge_packages",
            _("Purge expired export packages"),
            _("Deletes each access package (the file and its key) once its download period ends."),
            _purge_packages,
        ),
        Job(
            "close_unverified",
            _("Close unconfirmed requests"),
            _("Closes requests whose e-mail address was not confirmed while the link was valid."),
            _close_unverified,
        ),
        Job(
            "redact_requests",
            _("Redact old request records"),
            _(
                "Removes the person's address, name, details and identities from requests that "
                "ended longer ago than the retention period; keeps dates, types and states for "
                "the statistics."
            ),
            _redact_requests,
        ),
        Job(
            "store_retention",
            _("Apply the stores' retention rules"),
            _(
                "Deletes or anonymises, in each registered store, what its retention rule says has "
                "expired."
            ),
            _store_retention,
        ),
    )
}


def retention_run(
    *, job: str, dry_run: bool = False, actor: Any = None, now: datetime | None = None
) -> RetentionJobRun:
    """Run one retention job (or, with ``dry_run``, report what it would do), record the run,
    and audit it when it was real. A job that fails is recorded as failed, never raised."""
    if job not in JOBS:
        raise ValueError(f"unknown retention job {job!r}")
    now = now or timezone.now()
    run = RetentionJobRun.objects.create(
        job=job,
        dry_run=dry_run,
        actor=actor if getattr(actor, "pk", None) else None,
        started_at=now,
    )
    try:
        report = JOBS[job].run(now, dry_run, actor)
    except Exception as error:
        logger.exception("retention job failed", extra={"job": job})
        run.ok = False
        detail = (
            error.detail
            if isinstance(error, StoreError)
            else error_detail(
                gettext_noop("Unexpected error (%(error)s)."), error=type(error).__name__
            )
        )
        run.error_detail = detail
        with translation.override(settings.LANGUAGE_CODE):
            run.error = error_text(detail)[:500]
        report = {}
    else:
        run.ok = not report.get("failed")
    run.report = report
    run.count = int(report.get("count") or 0)
    run.finished_at = timezone.now()
    run.save()
    if not dry_run:
        audit_record(
            actor=actor,
            action="retention.job.ran",
            target=run,
            after={"job": job, "count": run.count, "ok": run.ok},
        )
    return run
