"""Reading the rates of the portal's limits (``CONSENT_RATE_…``, ``DSR_…_RATE``)."""

from __future__ import annotations

import re

_RATE = re.compile(r"(\d+)/(\d*)([smhd])", re.IGNORECASE)
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}


def rate_window(rate: str) -> int:
    """Return the window of a rate as django-ratelimit writes them (``120/m``, ``5/15m``), in
    seconds; raise :class:`ValueError` for anything else."""
    match = _RATE.fullmatch(str(rate).strip())
    if match is None or int(match[1]) < 1:
        raise ValueError(f"not a rate such as 120/m: {rate!r}")
    return int(match[2] or 1) * _PERIOD_SECONDS[match[3].lower()]
