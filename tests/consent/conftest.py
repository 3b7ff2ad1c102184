"""Helpers for the consent tests."""

from __future__ import annotations

from typing import Any

from consent import services
from consent.models import ConsentEvent


def record(user_or_subject: Any, key: str, granted: bool, source: str = "api") -> ConsentEvent:
    subject = (
        user_or_subject
        if isinstance(user_or_subject, services.ConsentSubject)
        else services.subject_for_user(user_or_subject)
    )
    return services.consent_record(
        subject=subject, purpose_key=key, granted=granted, source=source, actor=None
    )
