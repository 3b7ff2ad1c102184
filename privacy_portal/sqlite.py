"""SQLite, the embedded default, compares names as PostgreSQL does for support's searches.

SQLite's ``LIKE`` ignores the case of ASCII letters only ("Ü" does not match "ü") and it has no
``unaccent()``. Every new SQLite connection gets both as functions: ``unaccent()`` removes the
accents PostgreSQL's extension removes (so "Chloe" finds "Chloé", with Django's ``__unaccent``
lookup), and ``like()`` (which SQLite's ``LIKE`` calls) ignores case in every alphabet. Both run
in Python, which the small databases SQLite serves can afford; PostgreSQL is untouched.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from django.db.backends.signals import connection_created
from django.dispatch import receiver

#: Letters that carry no combining accent in Unicode but that PostgreSQL's unaccent rules
#: replace all the same.
_LETTERS = str.maketrans(
    {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae",
     "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "TH", "\u0131": "i"}
)  # fmt: skip


def unaccent(value: Any) -> Any:
    """``value`` without its accents ("Zoë Ünïcødé" becomes "Zoe Unicode")."""
    if not isinstance(value, str):
        return value
    decomposed = unicodedata.normalize("NFKD", value.translate(_LETTERS))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@functools.lru_cache(maxsize=256)
def _pattern(pattern: str, escape: str | None) -> re.Pattern[str]:
    parts, escaped = [], False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif escape is not None and char == escape:
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def like(pattern: Any, value: Any, escape: Any = None) -> int | None:
    """SQLite's ``value LIKE pattern [ESCAPE escape]``, ignoring case in every alphabet."""
    if pattern is None or value is None:
        return None
    return int(_pattern(str(pattern), escape).fullmatch(str(value)) is not None)


@receiver(connection_created)
def _functions_added(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function("unaccent", 1, unaccent, deterministic=True)
    raw.create_function("like", 2, like, deterministic=True)
    raw.create_function("like", 3, like, deterministic=True)
