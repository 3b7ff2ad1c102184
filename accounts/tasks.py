"""Periodic work on accounts."""

from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.models import Session as LegacySession
from django.utils import timezone

from .models import Session


@shared_task(acks_late=True, ignore_result=True, time_limit=600, soft_time_limit=540)
def sessions_clear_expired_task() -> int:
    """Delete the sessions that have expired (they hold the address someone signed in with),
    and those of the engine used before ``accounts.sessions``, which nothing reads any more;
    return how many went."""
    now = timezone.now()
    deleted, _ = Session.objects.filter(expire_date__lt=now).delete()
    legacy, _ = LegacySession.objects.filter(expire_date__lt=now).delete()
    return deleted + legacy
