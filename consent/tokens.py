"""Signed tokens in links: one-click unsubscribe (bound to subject and purpose) and double
opt-in confirmation. Each carries a random nonce; a used nonce is refused (replay)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing

UNSUBSCRIBE = "unsubscribe"
CONFIRM = "confirm"
_SALTS = {UNSUBSCRIBE: "consent.unsubscribe.v1", CONFIRM: "consent.confirm.v1"}


class TokenError(Exception):
    """The token is malformed, tampered with, expired or already used."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "invalid", "expired", "used" or "replaced"


@dataclass(frozen=True)
class LinkToken:
    kind: str
    subject_id: int
    purpose_key: str
    nonce: str
    # The pending confirmation a confirm token is for.
    pending_id: int | None = None


def _max_age(kind: str) -> timedelta:
    if kind == CONFIRM:
        return timedelta(hours=settings.CONSENT_CONFIRMATION_MAX_AGE_HOURS)
    return timedelta(days=settings.CONSENT_UNSUBSCRIBE_MAX_AGE_DAYS)


def token_make(
    *, kind: str, subject_id: int, purpose_key: str, pending_id: int | None = None
) -> str:
    """Return a signed, timestamped token for a link."""
    payload: dict[str, object] = {"s": subject_id, "p": purpose_key, "n": secrets.token_hex(12)}
    if pending_id is not None:
        payload["c"] = pending_id
    return signing.dumps(payload, salt=_SALTS[kind], compress=True)


def token_read(token: str, *, kind: str) -> LinkToken:
    """Return what ``token`` says, or raise :class:`TokenError`."""
    if not token or len(token) > 400:
        raise TokenError("invalid")
    try:
        payload = signing.loads(token, salt=_SALTS[kind], max_age=_max_age(kind))
    except signing.SignatureExpired as error:
        raise TokenError("expired") from error
    except signing.BadSignature as error:
        raise TokenError("invalid") from error
    try:
        return LinkToken(
            kind=kind,
            subject_id=int(payload["s"]),
            purpose_key=str(payload["p"]),
            nonce=str(payload["n"]),
            pending_id=int(payload["c"]) if "c" in payload else None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise TokenError("invalid") from error
