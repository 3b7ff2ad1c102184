"""Which law applies to a request, and by when it must be answered.

- GDPR and UK GDPR: one month from receipt, extendable once by two further months (the person
  must be told, with the reason, within the first month). Under the UK GDPR the clock may be
  paused while the portal waits for the person to confirm their identity.
- CCPA: 45 days, extendable once by 45 more; acknowledgement within 10 business days. A US
  address is taken to be Californian (the stricter reading).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from .models import Regime


def regime_for(country: str) -> Regime:
    """Return the regime for a person in ``country`` (GDPR unless the UK or the US)."""
    code = (country or "").upper()
    if code == "GB":
        return Regime.UK_GDPR
    if code == "US":
        return Regime.CCPA
    return Regime.GDPR


def due_at(
    regime: str, received_at: datetime, *, extended: bool = False, paused_seconds: int = 0
) -> datetime:
    """Return the deadline of a request received at ``received_at``."""
    if regime == Regime.CCPA:
        due = received_at + timedelta(days=90 if extended else 45)
    else:
        due = received_at + relativedelta(months=3 if extended else 1)
    if regime == Regime.UK_GDPR and paused_seconds:
        due += timedelta(seconds=paused_seconds)
    return due


def acknowledge_by(regime: str, received_at: datetime) -> datetime | None:
    """Return when receipt must be acknowledged (CCPA: 10 business days), else None."""
    if regime != Regime.CCPA:
        return None
    moment, added = received_at, 0
    while added < 10:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            added += 1
    return moment


def clock_pauses_for_identity(regime: str) -> bool:
    """Return True if the deadline stops while identity is awaited (UK GDPR)."""
    return regime == Regime.UK_GDPR


def extended_due_at(request: Any) -> datetime:
    """Return the deadline ``request`` would have once extended (shown before the officer
    extends it, and set when they do)."""
    return due_at(
        request.regime, request.received_at, extended=True, paused_seconds=request.paused_seconds
    )
