"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, object]:
    """Return contact addresses and site-wide links for the base layout."""
    return {
        "support_email": settings.PORTAL_SUPPORT_EMAIL,
        "privacy_email": settings.PORTAL_PRIVACY_EMAIL,
    }
