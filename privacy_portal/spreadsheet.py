"""What makes a CSV cell safe to open in a spreadsheet."""

from __future__ import annotations

from typing import Any

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """Return ``value`` for a CSV cell: text that a spreadsheet would run as a formula (a name
    or a note someone typed) gets a leading ``'`` so that it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
