"""What makes a CSV cell safe to open in a spreadsheet."""

from __future__ import annotations

import re
from typing import Any

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A cell that starts like a formula but holds only a number (a phone number in international
#: format, a negative amount): a spreadsheet can compute nothing from it but that number, so it
#: is left as it is, and the file keeps the person's data exactly. A regular expression that
#: Python and PostgreSQL read alike, matched against the whole cell.
NUMBER_LIKE = "[-+][ (]*[0-9][0-9 ()./-]*"
_NUMBER_LIKE = re.compile(NUMBER_LIKE)


def formula_risk(text: str) -> bool:
    """Whether a spreadsheet would run ``text`` as a formula that does more than show a
    number (a name or a note someone typed that starts with ``=``, ``+``, ``-`` or ``@``)."""
    return text.startswith(FORMULA_START) and _NUMBER_LIKE.fullmatch(text) is None


def csv_cell(value: Any) -> Any:
    """Return ``value`` for a CSV cell: text that a spreadsheet would run as a formula gets a
    leading ``'`` so that it stays text."""
    if isinstance(value, str) and formula_risk(value):
        return "'" + value
    return value
