"""System checks of the portal's own settings (``PORTAL_…``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from privacy_portal.crypto import NEW_KEY_COMMAND, keys_problem


@register()
def encryption_keys_check(app_configs: Any, **kwargs: Any) -> list[Error]:
    """A key of another form would fail only the first encryption, long after start-up."""
    problem = keys_problem(settings.PORTAL_ENCRYPTION_KEYS)
    if problem is None:
        return []
    return [Error(problem, hint=f"Make one with: {NEW_KEY_COMMAND}", id="portal.E001")]


@register(Tags.security, deploy=True)
def base_url_deploy_check(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """The links in the portal's e-mails carry their secrets (confirmations, a guest's status
    link, unsubscribing): over plain HTTP anyone on the way could read them before the portal
    redirects to HTTPS."""
    if urlsplit(settings.PORTAL_BASE_URL).scheme == "https":
        return []
    return [
        Warning(
            f"PORTAL_BASE_URL ({settings.PORTAL_BASE_URL}) is not an https:// address: the "
            "links in the portal's e-mails would be followed over plain HTTP.",
            hint="Set it to the portal's public address, such as https://privacy.inper.com.",
            id="portal.W001",
        )
    ]
