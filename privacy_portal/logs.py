"""Logging helpers. The portal logs ids, never personal data; this filter is a second line of
defence that masks anything that looks like an e-mail address, a phone number or an IP address
in a log line before it is written, and the secrets of single-use links in paths."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

from pythonjsonlogger.json import JsonFormatter

_PATTERNS = [
    # The look-behind starts a match only where a run of address characters starts: without it
    # every position inside a long run (a 100,000-character path) would be tried, which takes
    # time in the square of its length.
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"\+\d[\d ()-]{6,}\d"), "[phone]"),
    (re.compile(r"\b\d{9,}\b"), "[number]"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), "[ip]"),
    (re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b"), "[ip]"),
    # Single-use links carry their secret in the path: whoever reads the log must not be able
    # to confirm, unsubscribe or reset a password with it.
    # In any case (paths are matched so by no one, but a probe may send them so), and with
    # what a decoded path may put before the secret (a space, a quote).
    (
        re.compile(
            r"(/(?:requests/verify|privacy/confirm|unsubscribe|accounts/confirm-email"
            r"|accounts/password/reset/key)/)(?!(?:set-password|done)/)[\s\"']*[^/\s\"'?#]+",
            re.IGNORECASE,
        ),
        r"\1[token]",
    ),
]


def scrub(text: str) -> str:
    """Return ``text`` with e-mail addresses, phone numbers and IP addresses masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class ScrubPersonalDataFilter(logging.Filter):
    """Mask personal data in the rendered message and drop the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the log line
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


class RefusedRequestFilter(logging.Filter):
    """Django logs the requests it refuses as suspicious (a redirect it may not follow, an
    admin filter no list offers, a host it does not serve: each answered 400) at ERROR, with
    the exception's traceback. They are hostile or garbled input, not faults of the portal:
    written as one warning line, as the portal's own refusals are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security.") and record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


class ScrubbingJsonFormatter(JsonFormatter):
    """JSON log lines whose exception text is masked too (database errors quote values), and
    whose ``request`` (Django's request loggers attach it) is the method and path only: a
    query string can hold a search term or an address, URL-encoded past the patterns."""

    def formatException(self, ei: object) -> str:
        return scrub(super().formatException(ei))  # type: ignore[arg-type]

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        request = getattr(record, "request", None)
        if "request" in log_data and request is not None:
            method = getattr(request, "method", "")
            path = getattr(request, "path", None)
            if path is None:
                path = str(request).split("?", 1)[0]
            log_data["request"] = f"{method} {scrub(unquote(path))}".strip()
