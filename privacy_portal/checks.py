"""System checks of the portal's own settings (``PORTAL_…``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from privacy_portal.crypto import NEW_KEY_COMMAND, keys_problem


@register()
def encryption_keys_check(app_configs: Any, **kwargs: Any) -> list[Error]:
    """A key of another form would fail only the first encryption, long after start-up."""
    problem = keys_problem(settings.PORTAL_ENCRYPTION_KEYS)
    if problem is None:
        return []
    return [Error(problem, hint=f"Make one with: {NEW_KEY_COMMAND}", id="portal.E001")]
