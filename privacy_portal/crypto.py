"""Encryption at rest for small secrets (connector credentials, package keys).

Keys come from ``PORTAL_ENCRYPTION_KEYS``: the first encrypts, every key decrypts, so a new
key can be put first and old ciphertexts re-encrypted with :func:`rotate` (see the
``rotate_encryption_keys`` command in docs/operations.md).
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ("InvalidToken", "decrypt", "encrypt", "rotate")


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.PORTAL_ENCRYPTION_KEYS))


def encrypt(plaintext: bytes) -> bytes:
    """Return ``plaintext`` encrypted and authenticated with the current key."""
    return _current().encrypt(plaintext)


def decrypt(token: bytes) -> bytes:
    """Return the plaintext of ``token``; raise :class:`InvalidToken` if it was tampered with."""
    return _current().decrypt(token)


def rotate(token: bytes) -> bytes:
    """Return ``token`` re-encrypted under the current (first) key."""
    return _current().rotate(token)
