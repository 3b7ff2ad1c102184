"""Encryption at rest: small secrets (connector credentials, package keys) with Fernet, and
large files (export packages) with streaming AES-GCM under a key of their own.

Keys come from ``PORTAL_ENCRYPTION_KEYS``: the first encrypts, every key decrypts, so a new
key can be put first and old ciphertexts re-encrypted with :func:`rotate` (see the
``rotate_encryption_keys`` command in docs/operations.md).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import IO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

__all__ = (
    "NEW_KEY_COMMAND",
    "EncryptingWriter",
    "InvalidToken",
    "StreamError",
    "decrypt",
    "decrypt_stream",
    "decrypt_text",
    "encrypt",
    "encrypt_text",
    "keys_problem",
    "new_stream_key",
    "rotate",
    "rotate_text",
)


#: How to make a key, for the messages that ask for one.
NEW_KEY_COMMAND = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def keys_problem(keys: Sequence[str]) -> str | None:
    """Return what makes ``keys`` unusable as ``PORTAL_ENCRYPTION_KEYS``, or None.

    Read at start-up, so that a key of another form (``openssl rand -hex 32``) stops the portal
    there instead of failing its first encryption. The keys themselves are never repeated.
    """
    if not keys:
        return "PORTAL_ENCRYPTION_KEYS is empty."
    wrong = []
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except ValueError:
            wrong.append(str(number))
    if not wrong:
        return None
    return (
        f"PORTAL_ENCRYPTION_KEYS: key {', '.join(wrong)} of {len(keys)} is not a Fernet key "
        "(32 random bytes in URL-safe base64: 44 characters, the last one =)."
    )


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


#: Marks a text value encrypted by :func:`encrypt_text` (one written before it was is plain).
TEXT_PREFIX = "fernet:"


def encrypt_text(text: str) -> str:
    """Return ``text`` encrypted for a text or JSON column (a second factor's secret)."""
    return TEXT_PREFIX + encrypt(text.encode()).decode("ascii")


def decrypt_text(value: str) -> str:
    """Counterpart of :func:`encrypt_text`; a value without its prefix is returned as it is
    (stored before secrets were encrypted; ``rotate_encryption_keys`` encrypts it)."""
    if not value.startswith(TEXT_PREFIX):
        return value
    return decrypt(value.removeprefix(TEXT_PREFIX).encode("ascii")).decode()


def rotate_text(value: str) -> str:
    """Return a value of :func:`encrypt_text` under the current key (encrypting a plain one)."""
    return encrypt_text(decrypt_text(value))


# --- streaming encryption of large files (export packages) ------------------------------------
#
# Format: MAGIC (4 bytes) | nonce prefix (8 bytes) | chunks. Each chunk is a 4-byte big-endian
# length and an AES-256-GCM ciphertext of up to CHUNK bytes of plaintext, under the nonce
# prefix + a 4-byte counter, with "more"/"last" as associated data so that a truncated or
# reordered file is detected. Memory use is one chunk, whatever the file size.


STREAM_MAGIC = b"IPP1"
STREAM_CHUNK = 64 * 1024
_MORE, _LAST = b"more", b"last"


class StreamError(ValueError):
    """The encrypted stream is damaged, truncated or was encrypted with another key."""


def new_stream_key() -> bytes:
    """Return a fresh random 256-bit key for one encrypted file."""
    return AESGCM.generate_key(bit_length=256)


class BinarySink(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class EncryptingWriter:
    """A write-only binary file object that encrypts into ``sink`` as it is written to."""

    def __init__(self, sink: BinarySink, key: bytes) -> None:
        self._sink = sink
        self._aead = AESGCM(key)
        self._prefix = os.urandom(8)
        self._counter = 0
        self._buffer = bytearray()
        self._closed = False
        self._position = 0
        sink.write(STREAM_MAGIC + self._prefix)

    def _emit(self, data: bytes, last: bool) -> None:
        nonce = self._prefix + struct.pack(">I", self._counter)
        ciphertext = self._aead.encrypt(nonce, data, _LAST if last else _MORE)
        self._sink.write(struct.pack(">I", len(ciphertext)) + ciphertext)
        self._counter += 1

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError("write to a closed EncryptingWriter")
        self._buffer += data
        while len(self._buffer) > STREAM_CHUNK:
            self._emit(bytes(self._buffer[:STREAM_CHUNK]), last=False)
            del self._buffer[:STREAM_CHUNK]
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        self._sink.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        """Write the last chunk (possibly empty). The sink stays open."""
        if not self._closed:
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._closed = True
            self._sink.flush()

    def __enter__(self) -> EncryptingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decrypt_stream(source: IO[bytes], key: bytes) -> Iterator[bytes]:
    """Yield the plaintext of an encrypted stream chunk by chunk; raise :class:`StreamError`
    if it was tampered with, truncated, or encrypted under another key."""
    header = source.read(len(STREAM_MAGIC) + 8)
    if len(header) != 12 or header[:4] != STREAM_MAGIC:
        raise StreamError("not an encrypted portal file")
    prefix = header[4:]
    aead = AESGCM(key)
    counter = 0
    while True:
        size_bytes = source.read(4)
        if len(size_bytes) != 4:
            raise StreamError("encrypted file is truncated")
        (size,) = struct.unpack(">I", size_bytes)
        if size > STREAM_CHUNK + 16:
            raise StreamError("encrypted file is damaged")
        ciphertext = source.read(size)
        nonce = prefix + struct.pack(">I", counter)
        try:
            yield aead.decrypt(nonce, ciphertext, _MORE)
        except InvalidTag:
            try:
                plaintext = aead.decrypt(nonce, ciphertext, _LAST)
            except InvalidTag:
                raise StreamError("encrypted file is damaged or the key is wrong") from None
            if source.read(1):
                raise StreamError("data after the end of the encrypted file") from None
            yield plaintext
            return
        counter += 1
