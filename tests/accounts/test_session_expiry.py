"""Expired sessions do not stay in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session as LegacySession
from django.utils import timezone

from accounts.models import Session

pytestmark = pytest.mark.django_db


def test_beat_deletes_expired_sessions_and_keeps_live_ones(customer):
    from accounts.tasks import sessions_clear_expired_task

    now = timezone.now()
    expired = Session.objects.create(
        session_key="e" * 32, session_data="x", expire_date=now - timedelta(minutes=1), user_id=1
    )
    live = Session.objects.create(
        session_key="l" * 32, session_data="x", expire_date=now + timedelta(minutes=30)
    )
    LegacySession.objects.create(
        session_key="o" * 32, session_data="x", expire_date=now - timedelta(days=1)
    )

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "accounts.tasks.sessions_clear_expired_task" in scheduled
    assert sessions_clear_expired_task() == 2

    assert not Session.objects.filter(pk=expired.pk).exists()
    assert Session.objects.filter(pk=live.pk).exists()
    assert not LegacySession.objects.exists()
