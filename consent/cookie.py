"""The banner's first-party cookie: which visitor, under which cookie policy version, when,
and which categories were granted. banner.js writes and reads the same format:

    1.<visitor uuid>.<cookie policy version>.<unix time>.<granted keys joined by "+", or "-">
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

_KEY = re.compile(r"^[a-z0-9_]{1,48}$")


@dataclass(frozen=True)
class BannerCookie:
    visitor_id: uuid.UUID
    policy_version: int
    decided_at: datetime
    granted: frozenset[str]

    def value(self) -> str:
        keys = "+".join(sorted(self.granted)) or "-"
        return (
            f"1.{self.visitor_id}.{self.policy_version}.{int(self.decided_at.timestamp())}.{keys}"
        )

    def is_current(self, *, material_version: int) -> bool:
        """Return whether this choice still holds: made under the latest material cookie policy
        and within the configured lifetime."""
        lifetime = timedelta(days=settings.CONSENT_CHOICE_LIFETIME_DAYS)
        return (
            self.policy_version >= material_version and timezone.now() - self.decided_at < lifetime
        )


def banner_cookie_parse(value: str | None) -> BannerCookie | None:
    """Return the parsed cookie, or None if it is absent or malformed."""
    if not value or len(value) > 400:
        return None
    parts = value.split(".")
    if len(parts) != 5 or parts[0] != "1":
        return None
    try:
        visitor_id = uuid.UUID(parts[1])
        policy_version = int(parts[2])
        decided_at = datetime.fromtimestamp(int(parts[3]), tz=timezone.get_current_timezone())
    except (ValueError, OverflowError, OSError):
        return None
    keys = frozenset() if parts[4] == "-" else frozenset(parts[4].split("+"))
    if not all(_KEY.match(key) for key in keys):
        return None
    return BannerCookie(visitor_id, policy_version, decided_at, keys)


def banner_cookie_of(request: HttpRequest) -> BannerCookie | None:
    """Return the banner cookie the request carries, if any."""
    return banner_cookie_parse(request.COOKIES.get(settings.CONSENT_COOKIE_NAME))


def banner_cookie_set(response: HttpResponse, cookie: BannerCookie, *, secure: bool) -> None:
    """Store ``cookie`` in the browser (readable by banner.js, so not HttpOnly)."""
    response.set_cookie(
        settings.CONSENT_COOKIE_NAME,
        cookie.value(),
        max_age=settings.CONSENT_CHOICE_LIFETIME_DAYS * 24 * 60 * 60,
        secure=secure,
        httponly=False,
        samesite="Lax",
    )


def banner_cookie_make(visitor_id: uuid.UUID, granted: set[str]) -> BannerCookie:
    """Return the cookie for a choice made now under the cookie policy in force."""
    from .catalogue import catalogue

    policy = catalogue().cookie_policy
    return BannerCookie(
        visitor_id, policy.version if policy else 0, timezone.now(), frozenset(granted)
    )
