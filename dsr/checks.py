"""System checks of the request settings (``DSR_…``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from privacy_portal.ratelimits import rate_window

RATE_SETTINGS = (
    "DSR_INTAKE_RATE",
    "DSR_OPT_OUT_RATE",
    "DSR_INTAKE_RATE_PER_EMAIL",
    "DSR_VERIFY_RATE",
    "DSR_DOWNLOAD_CODE_RATE",
)


@register()
def dsr_settings_check(app_configs: Any, **kwargs: Any) -> list[Error]:
    problems = []
    for name in RATE_SETTINGS:
        try:
            rate_window(getattr(settings, name))
        except ValueError:
            problems.append(Error(f"{name} is not a rate such as 10/h.", id="dsr.E001"))
    return problems
