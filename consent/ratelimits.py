"""Rate limits of the anonymous endpoints (banner save, unsubscribe, SMS webhook), counted per
client address in the shared cache. Over the limit the answer is 429, never 403."""

from __future__ import annotations

from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

from privacy_portal.pseudonymise import ratelimit_client


def too_many_requests(request: HttpRequest, group: str, rate: str) -> bool:
    """Count this request against ``rate`` for its client; return True if over the limit."""
    return bool(
        is_ratelimited(
            request, group=f"consent.{group}", key=ratelimit_client, rate=rate, increment=True
        )
    )
