"""Exports that PostgreSQL encodes itself: ``COPY ... TO STDOUT`` into a package's raw table.

An entity is two statements over the same snapshot: one producing the CSV (with its header),
one a JSON object per row (``row_to_json``), each followed by the comma that separates the
elements of the file's array (the sink drops the last one). Two connections share the
snapshot, one of them in a thread, and each takes the next copy as soon as it is free; the
rows stream into the package files without a Python object per value. Values are rendered as
the generic path renders them (ISO dates and times, booleans as ``true``/``false``, decimals as
text, bytes as hex, spreadsheet formulas kept as text), so a package reads the same whichever
way it was made.

The statements are built from constant text and queries compiled by the ORM or SQLAlchemy with
their parameters escaped by psycopg2 (``mogrify``), and wrapped in a constant
``COPY (...) TO STDOUT``.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from django_stubs_ext import StrOrPromise

from privacy_portal.spreadsheet import FORMULA_START, NUMBER_LIKE

#: The code points of the first characters that make a spreadsheet read a cell as a formula:
#: ``ascii(text)`` (the first character's) costs less than ``left(text, 1)``, which makes a new
#: string for every cell.
FORMULA_CODES = tuple(ord(start) for start in FORMULA_START)

CSV_OPTIONS = "WITH (FORMAT csv, HEADER)"
# CSV with a quote and a delimiter that JSON text never holds (row_to_json escapes every control
# character): each line is one object exactly as row_to_json wrote it, and its comma.
JSON_OPTIONS = "WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"


@dataclass(frozen=True)
class EntityCopy:
    """One entity to copy: ``csv_query`` selects its CSV cells, ``json_query`` one JSON object
    per row."""

    entity: str
    columns: Sequence[str]
    descriptions: Mapping[str, StrOrPromise] | None
    csv_query: str
    json_query: str


def copy_entities(
    *, raw_table: Callable[..., Any], entities: Sequence[EntityCopy], cursor: Any, helper: Any
) -> dict[str, int]:
    """Copy ``entities`` into the sink's raw tables; return each one's record count.

    The two psycopg2 cursors belong to different connections that share one snapshot. Each
    takes the next copy as soon as it is free (an entity's JSON, then its CSV, then the next
    entity's), so that while one is still on the JSON of a large entity the other goes on with
    the rest instead of waiting. The entities' files are opened first and closed in order, so
    that the part lists them in the order given.
    """
    with ExitStack() as stack:
        tables: list[Any] = [None] * len(entities)
        for index in reversed(range(len(entities))):  # closed first to last
            entity = entities[index]
            tables[index] = stack.enter_context(
                raw_table(entity.entity, list(entity.columns), descriptions=entity.descriptions)
            )
        # A deque's popleft is atomic: the two connections share it without a lock.
        jobs = deque((index, kind) for index in range(len(entities)) for kind in ("json", "csv"))
        failed = threading.Event()

        def work(on: Any) -> None:
            on.execute("SET LOCAL client_encoding TO 'UTF8'")
            while not failed.is_set():
                try:
                    index, kind = jobs.popleft()
                except IndexError:
                    return
                try:
                    _copy(on, entities[index], tables[index], kind)
                except BaseException:
                    failed.set()
                    raise

        # If a copy fails, the other connection stops after its current one (leaving the
        # block waits for it); the first error is raised.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy") as pool:
            helped = pool.submit(work, helper)
            work(cursor)
            helped.result()
        return {
            entity.entity: int(table.records)
            for entity, table in zip(entities, tables, strict=True)
        }


def _copy(cursor: Any, entity: EntityCopy, table: Any, kind: str) -> None:
    if kind == "json":
        # Composed by the callers (see the module's docstring) in constant text.
        query = f"SELECT q.j::text || ',' FROM ({entity.json_query}) AS q(j)"  # noqa: S608  # nosec B608
        with batched(table.json) as out:
            cursor.copy_expert(f"COPY ({query}) TO STDOUT {JSON_OPTIONS}", out)
    else:
        with batched(table.csv) as out:
            cursor.copy_expert(f"COPY ({entity.csv_query}) TO STDOUT {CSV_OPTIONS}", out)


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
    if kind in ("bool", "int"):
        return f"CAST({expression} AS text)"  # a spreadsheet shows it as it is
    if kind == "datetime":
        return f"(to_jsonb({expression}) #>> '{{}}')"  # as in the JSON file
    text = (
        f"CAST({expression} AS text)" if kind == "text" else f"(to_jsonb({expression}) #>> '{{}}')"
    )
    # The pattern is tried only on the few cells that start like a formula.
    return (
        f"CASE WHEN ascii({text}) IN ({risky_start}) AND {text} !~ '^{NUMBER_LIKE}$' "
        f"THEN '''' || {text} ELSE {text} END"
    )
