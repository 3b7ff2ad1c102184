"""System checks of the consent settings (``CONSENT_…``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from privacy_portal.ratelimits import rate_window


@register()
def consent_settings_check(app_configs: Any, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    lifetime = settings.CONSENT_CHOICE_LIFETIME_DAYS
    if not 1 <= lifetime <= 395:
        problems.append(
            Error(
                "CONSENT_CHOICE_LIFETIME_DAYS must be between 1 and 395 (13 months).",
                id="consent.E001",
            )
        )
    for name in ("CONSENT_RATE_BANNER", "CONSENT_RATE_UNSUBSCRIBE", "CONSENT_RATE_SMS_WEBHOOK"):
        try:
            rate_window(getattr(settings, name))
        except ValueError:
            problems.append(Error(f"{name} is not a rate such as 120/m.", id="consent.E002"))
    for origin in settings.CONSENT_BANNER_ORIGINS:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            problems.append(
                Error(f"CONSENT_BANNER_ORIGINS: {origin!r} is not an origin.", id="consent.E003")
            )
    for tag in settings.CONSENT_PORTAL_TAGS:
        if not isinstance(tag, dict) or not {"category", "src"} <= set(tag):
            problems.append(
                Error("CONSENT_PORTAL_TAGS entries need a category and a src.", id="consent.E004")
            )
    secret = settings.CONSENT_SMS_WEBHOOK_SECRET
    if secret and len(secret) < 32:
        problems.append(
            Error("CONSENT_SMS_WEBHOOK_SECRET must be at least 32 characters.", id="consent.E005")
        )
    mailbox = settings.CONSENT_UNSUBSCRIBE_MAILTO
    if mailbox:
        try:
            validate_email(mailbox)
        except ValidationError:
            problems.append(
                Error(
                    "CONSENT_UNSUBSCRIBE_MAILTO must be an e-mail address (or empty).",
                    id="consent.E007",
                )
            )
    if settings.CONSENT_WEBHOOK_MAX_ATTEMPTS < 1:
        problems.append(Error("CONSENT_WEBHOOK_MAX_ATTEMPTS must be 1 or more.", id="consent.E006"))
    return problems


@register(Tags.security, deploy=True)
def consent_deploy_check(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """The privacy statement promises that replying STOP to a text message stops them: the SMS
    provider's webhook needs its secret (without it the webhook answers 503)."""
    if settings.CONSENT_SMS_WEBHOOK_SECRET:
        return []
    return [
        Warning(
            "CONSENT_SMS_WEBHOOK_SECRET is not set: replies of STOP to Inper's text messages "
            "cannot be received.",
            hint="Set it to the SMS provider's shared secret (32 characters or more).",
            id="consent.W001",
        )
    ]
