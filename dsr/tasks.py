"""Celery tasks of the request workflow. Each takes primary keys only (never personal data),
loads the rows and calls the engine; the rows make every task safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from . import callbacks, engine, holdings, maintenance, packages, retention

# Store tasks: redelivered if a worker dies mid-task, the longest time limits.
_STORE_TASK: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
}


@shared_task(**_STORE_TASK)
def store_task_run_task(task_id: int) -> None:
    """Run one store task (claim, connector action, receipt)."""
    engine.task_run(task_id)


@shared_task(**_STORE_TASK)
def store_export_task(task_id: int) -> None:
    """Run one store's export (routed to the exports queue, where the worker that finishes a
    request's last export also builds its package)."""
    engine.task_run(task_id)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=120,
    soft_time_limit=100,
)
def request_advance_task(request_id: int) -> None:
    """Advance a request whose tasks changed."""
    engine.request_advance(request_id)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def package_build_task(request_id: int) -> None:
    """Assemble an access package from the stores' parts."""
    packages.package_build(request_id)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=300,
    soft_time_limit=280,
)
def reconcile_task() -> None:
    """Queue again the work a crash or a lost message left behind."""
    engine.reconcile()


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=900,
    soft_time_limit=850,
)
def deadlines_task() -> None:
    """Send verification reminders, warn of deadlines, remind of manual steps."""
    maintenance.verification_reminders()
    maintenance.warn_due_soon()
    maintenance.remind_manual_tasks()


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=1800,
    soft_time_limit=1700,
)
def purge_packages_task() -> None:
    """Delete expired export packages (file and key)."""
    retention.retention_run(job="purge_packages")


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=3600,
    soft_time_limit=3500,
)
def retention_job_task(job: str, dry_run: bool = False, actor_id: int | None = None) -> None:
    """Run one retention job (see :mod:`dsr.retention`), or report what it would do."""
    from accounts.models import User

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    retention.retention_run(job=job, dry_run=dry_run, actor=actor)


@shared_task(acks_late=True, ignore_result=True, time_limit=90, soft_time_limit=60)
def preview_locate_task(request_id: int, store_id: int, token: str) -> None:
    """Search one store for the person of an erasure preview (counts only)."""
    from .dashboard.preview import preview_locate

    preview_locate(request_id, store_id, token)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=300,
    soft_time_limit=280,
)
def callbacks_overdue_task() -> None:
    """Ask services again for results they have not posted in time."""
    callbacks.callbacks_overdue()


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=120,
    soft_time_limit=100,
)
def holdings_compute_task(user_id: int) -> None:
    """Search every store for a customer's data, for their "my data" page."""
    holdings.holdings_compute(user_id)
