"""HMAC-SHA256 signatures of webhook bodies, in both directions (pushes to Inper's systems,
and the SMS provider's inbound messages): ``t=<unix time>,v1=<hex HMAC of "<t>.<body>">``."""

from __future__ import annotations

import hashlib
import hmac
import time


def signature_make(secret: bytes, body: bytes, *, timestamp: int | None = None) -> str:
    """Return the signature header value for ``body``."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def signature_valid(secret: bytes, body: bytes, header: str, *, tolerance: int) -> bool:
    """Return whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds
    of now (older or future timestamps are refused: a replayed request fails)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        stamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - stamp) > tolerance:
        return False
    expected = signature_make(secret, body, timestamp=stamp).split("v1=", 1)[1]
    # Bytes: a header's text may hold any Latin-1 character, which compare_digest refuses in
    # a str.
    return hmac.compare_digest(expected.encode(), fields.get("v1", "").encode())
