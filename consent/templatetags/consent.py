"""Template tags of the base layout: the banner and gated tags in <head>, and the notice of a
material policy change."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("consent/head.html", takes_context=True)
def consent_head(context: dict[str, Any]) -> dict[str, Any]:
    """Render the banner script and the portal's own tags, inert until consented to."""
    request = context.get("request")
    path = getattr(request, "path", "")
    # The officers' dashboard is a place of work that shows customers' data: no tag runs
    # there, and the banner does not ask (the footer's link still opens the cookie settings).
    at_work = getattr(getattr(request, "resolver_match", None), "namespace", "") == "dashboard"
    return {
        "tags": [] if at_work else settings.CONSENT_PORTAL_TAGS,
        "csrf_token": context.get("csrf_token"),
        "LANGUAGE_CODE": context.get("LANGUAGE_CODE"),
        "cookie": settings.CONSENT_COOKIE_NAME,
        # The cookie settings page is itself the second layer: the banner does not pop up there.
        "quiet": at_work or path.startswith("/privacy/cookies/"),
    }


@register.inclusion_tag("consent/notices.html", takes_context=True)
def consent_notices(context: dict[str, Any]) -> dict[str, Any]:
    """Render the prominent notice of material policy changes for a signed-in customer."""
    from ..selectors import consent_to_renew, policy_notices
    from ..services import subject_of_user

    request = context.get("request")
    user = getattr(request, "user", None)
    notices = policy_notices(user) if user is not None else []
    renew = []
    if notices and user is not None:
        # Read only: a page must not create the consent subject of someone who has none yet.
        renew = consent_to_renew(subject_of_user(user))
    return {
        "notices": notices,
        "renew": renew,
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
