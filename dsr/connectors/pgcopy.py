"""Exports that PostgreSQL encodes itself: ``COPY ... TO STDOUT`` into a package's raw table.

An entity is two statements over the same snapshot: one producing the CSV (with its header),
one a JSON object per row (``row_to_json``), each followed by the comma that separates the
elements of the file's array (the sink drops the last one). They run at the same time on two
connections, the CSV on a helper connection in a thread, and stream into the package files
without a Python object per value. Values are rendered as the generic path renders them (ISO
dates and times, booleans as ``true``/``false``, decimals as text, bytes as hex, spreadsheet
formulas kept as text), so a package reads the same whichever way it was made.

The statements are built from constant text and queries compiled by the ORM or SQLAlchemy with
their parameters escaped by psycopg2 (``mogrify``), and wrapped in a constant
``COPY (...) TO STDOUT``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from django_stubs_ext import StrOrPromise

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Their code points: ``ascii(text)`` (the first character's) costs less than ``left(text, 1)``,
#: which makes a new string for every cell.
FORMULA_CODES = tuple(ord(start) for start in FORMULA_START)

CSV_OPTIONS = "WITH (FORMAT csv, HEADER)"
# CSV with a quote and a delimiter that JSON text never holds (row_to_json escapes every control
# character): each line is one object exactly as row_to_json wrote it, and its comma.
JSON_OPTIONS = "WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"


def copy_entity(
    *,
    raw_table: Callable[..., Any],
    entity: str,
    columns: Sequence[str],
    descriptions: Mapping[str, StrOrPromise] | None,
    csv_query: str,
    json_query: str,
    csv_cursor: Any,
    json_cursor: Any,
) -> int:
    """Copy one entity into the sink's raw table; return its record count.

    ``csv_query`` selects the CSV cells, ``json_query`` one JSON object per row; the two
    psycopg2 cursors belong to different connections that share one snapshot.
    """
    # Statements composed by the callers (see the module's docstring) in constant text.
    json_lines = f"SELECT q.j::text || ',' FROM ({json_query}) AS q(j)"  # noqa: S608  # nosec B608
    with (
        raw_table(entity, list(columns), descriptions=descriptions) as table,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy-csv") as pool,
        batched(table.csv) as csv_out,
        batched(table.json) as json_out,
    ):
        for cursor in (json_cursor, csv_cursor):
            cursor.execute("SET LOCAL client_encoding TO 'UTF8'")
        csv_done = pool.submit(
            csv_cursor.copy_expert, f"COPY ({csv_query}) TO STDOUT {CSV_OPTIONS}", csv_out
        )
        json_cursor.copy_expert(f"COPY ({json_lines}) TO STDOUT {JSON_OPTIONS}", json_out)
        csv_done.result()
    return int(table.records)


class _Forward(io.RawIOBase):
    """Passes what a :func:`batched` buffer collected on to ``out``, which must not keep the
    memory it is given beyond the call (the buffer reuses it); nowhere once disconnected."""

    def __init__(self, out: Any) -> None:
        self.out = out

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.out is not None:
            self.out.write(data)
        return len(data)


@contextmanager
def batched(out: Any, size: int = 1 << 18) -> Iterator[io.BufferedWriter[_Forward]]:
    """Yield a file that collects the many small writes of a ``COPY ... TO STDOUT`` (one per
    row) and passes them on to ``out`` in pieces of ``size`` bytes: a call into Python for
    every row costs more than the copy itself, and a buffered writer's ``write`` is not one.

    What is left is flushed when the block ends normally. After an error it is dropped (the
    part is discarded), also when the writer is collected later or a copy still running in
    another thread goes on writing."""
    forward = _Forward(out)
    writer = io.BufferedWriter(forward, buffer_size=size)
    try:
        yield writer
        writer.flush()
    finally:
        forward.out = None


def json_cell(expression: str, kind: str) -> str:
    """Return SQL for the value of ``expression`` in a row's JSON object: the value itself
    (``row_to_json`` writes times as ISO 8601 in the session's time zone, UTC)."""
    return expression


def csv_cell(expression: str, kind: str) -> str:
    """Return SQL rendering ``expression`` (a quoted column of kind ``"bool"``, ``"int"``,
    ``"text"``, ``"datetime"`` or ``"other"``) as the generic path's CSV cell."""
    risky_start = ", ".join(str(code) for code in FORMULA_CODES)
    if kind == "bool":
        return f"CAST({expression} AS text)"
    if kind == "int":
        return (
            f"CASE WHEN {expression} < 0 THEN '''' || CAST({expression} AS text) "
            f"ELSE CAST({expression} AS text) END"
        )
    if kind == "datetime":
        return f"(to_jsonb({expression}) #>> '{{}}')"  # as in the JSON file
    text = (
        f"CAST({expression} AS text)" if kind == "text" else f"(to_jsonb({expression}) #>> '{{}}')"
    )
    return f"CASE WHEN ascii({text}) IN ({risky_start}) THEN '''' || {text} ELSE {text} END"
