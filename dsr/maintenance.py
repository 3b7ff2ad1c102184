"""Periodic work on requests: reminders, closing what was never confirmed, deadline warnings."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from privacy_portal.audit.services import audit_record

from . import notifications
from .models import OPEN_STATES, DataSubjectRequest, State, StoreTask, TaskState


def verification_reminders(*, dry_run: bool = False) -> list[str]:
    """Remind people who have not confirmed their e-mail after a day (once)."""
    cutoff = timezone.now() - timedelta(hours=settings.DSR_VERIFICATION_REMINDER_HOURS)
    due = DataSubjectRequest.objects.filter(
        state=State.AWAITING_IDENTITY,
        verification_sent_at__lt=cutoff,
        verification_reminded_at__isnull=True,
    )
    references = []
    for request in due:
        references.append(request.reference)
        if dry_run:
            continue
        with transaction.atomic():
            # Only if it still waits for this link: the person may have confirmed or cancelled
            # since the list was read, and a reminder would then carry a dead link.
            updated = DataSubjectRequest.objects.filter(
                pk=request.pk,
                state=State.AWAITING_IDENTITY,
                verification_nonce=request.verification_nonce,
                verification_reminded_at__isnull=True,
            ).update(verification_reminded_at=timezone.now())
            if updated:
                notifications.verification_link(request, reminder=True)
                audit_record(actor=None, action="dsr.request.verification_reminded", target=request)
    return references


def close_unverified(*, dry_run: bool = False) -> list[str]:
    """Close requests whose e-mail was not confirmed within the link's lifetime."""
    from .services import TransitionError, dsr_request_transition

    cutoff = timezone.now() - timedelta(days=settings.DSR_VERIFICATION_DAYS)
    stale = list(
        DataSubjectRequest.objects.filter(
            state=State.AWAITING_IDENTITY, verification_sent_at__lt=cutoff
        )
    )
    if dry_run:
        return [request.reference for request in stale]
    closed = []
    for request in stale:
        try:
            with transaction.atomic():
                request = dsr_request_transition(
                    request=request,
                    to=State.CLOSED_UNVERIFIED,
                    actor=None,
                    reason="verification_expired",
                    updates={
                        "completed_at": timezone.now(),
                        "outcome": "unverified",
                        "verification_nonce": "",
                        "subject_snapshot": None,
                    },
                )
            closed.append(request.reference)
        except TransitionError:
            continue
    return closed


def warn_due_soon() -> list[str]:
    """E-mail compliance officers, once a day, the open requests (in any open state, its
    clock not paused) that are overdue or due within 7 days, the overdue ones first and
    named as such."""
    now = timezone.now()
    marker = f"dsr-due-soon-{now.date().isoformat()}"
    from django.core.cache import cache

    if not cache.add(marker, True, 60 * 60 * 26):
        return []
    due = list(
        DataSubjectRequest.objects.filter(
            state__in=OPEN_STATES,
            clock_paused_at__isnull=True,
            due_at__lt=now + timedelta(days=7),
        ).order_by("due_at")
    )
    notifications.due_soon(due, now=now)
    return [request.reference for request in due]


def remind_manual_tasks() -> list[int]:
    """Remind the assigned group of manual steps waiting for longer than
    ``DSR_MANUAL_REMINDER_HOURS``, and again after each such period; return the task ids."""
    now = timezone.now()
    cutoff = now - timedelta(hours=settings.DSR_MANUAL_REMINDER_HOURS)
    waiting = list(
        StoreTask.objects.select_related("request", "store")
        .filter(state=TaskState.WAITING, waiting_for="manual", started_at__lt=cutoff)
        .exclude(reminded_at__gt=cutoff)
    )
    reminded = []
    for task in waiting:
        with transaction.atomic():
            # Only if it still waits and nobody reminded meanwhile (beat may overlap itself).
            updated = (
                StoreTask.objects.filter(pk=task.pk, state=TaskState.WAITING)
                .exclude(reminded_at__gt=cutoff)
                .update(reminded_at=now)
            )
            if updated:
                notifications.manual_task_waiting(task)
                reminded.append(task.pk)
    return reminded
