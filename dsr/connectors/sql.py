"""External SQL databases as data stores: PostgreSQL, MariaDB/MySQL and SQLite, on SQLAlchemy.

The configuration names the tables that hold personal data and, for each, how a row is tied
to a person and what an erasure does to it::

    {
      "url": "postgresql://dsr@shop-db.internal:5432/shop",   # the password is a secret
      "tables": {
        "customers": {"identities": {"email": "email"}, "erase": "delete"},
        "orders": {
          "parent": "customers", "on": {"customer_id": "id"},
          "order_number_column": "order_number",
          "erase": "retain",
          "columns": {"email": "null", "shipping_address": {"fixed": "erased"},
                      "customer_id": "null"},
          "retention": {"basis": "Financial records (HGB §257)", "years": 10,
                        "date_column": "created_at"}
        },
        "order_lines": {"parent": "orders", "erase": "retain",
                        "retention": {"basis": "Financial records, with their order", "years": 10}},
        "browsing_events": {"parent": "customers", "on": {"customer_id": "id"}, "erase": "delete"},
        "fraud_scores": {"parent": "customers", "erase": "delete", "portable": false}
      }
    }

A row belongs to the person if one of its ``identities`` columns holds one of the person's
identities, or if it points (``parent`` and ``on``, or the foreign key the database declares)
to a row of theirs in another configured table; chains (order lines, orders, customers) are
followed. ``erase`` is ``delete`` (the row goes), ``anonymise`` (the ``columns`` are replaced:
``"null"``, ``{"fixed": value}``, or ``"hash"``, a keyed pseudonym of the person) or
``retain`` (the row is kept under ``retention``, with its ``columns`` anonymised if given).
``portable`` says what a portability request's copy holds of a table (GDPR Art. 20: what the
person provided, given or observed from their use of the shop): every column (``true``, the
default), only the columns listed, or nothing (``false``: what Inper derived, such as scores).

How it treats the database:

- every table and column name is checked against the database's own catalogue (reflection)
  and used only through SQLAlchemy's table objects, never formatted into SQL; identities and
  values are always bound parameters;
- reads stream through server-side cursors, so memory stays flat whatever the row count;
- an erasure is one transaction of set-based statements, a fixed number per table whatever
  the number of rows: children first (while the rows they point to still exist), each
  followed by a check query that counts what should be gone and is not; a leftover (a row
  written meanwhile) gets one more pass, and if it is still there the transaction is rolled
  back and the task retried;
- database errors become the two store errors with messages that never quote SQL or values.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_stubs_ext import StrOrPromise
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from privacy_portal.pseudonymise import email_hash, keyed_hash
from privacy_portal.spreadsheet import NUMBER_LIKE

from ..texts import ConfiguredText, text_lazy, texts_parse
from .base import (
    ConfigurationError,
    Connector,
    EraseResult,
    ExportResult,
    ExportSink,
    HealthResult,
    LocateResult,
    Pending,
    PermanentStoreError,
    PlannedErasure,
    RectifyResult,
    RestrictResult,
    Retention,
    RetentionRun,
    StoreError,
    Subject,
    TemporaryStoreError,
    connector_config,
    names_a_credential,
    period_words,
)
from .pgcopy import FORMULA_CODES, EntityCopy, copy_entities

logger = logging.getLogger(__name__)

#: The drivers the portal ships with, by the dialect names a URL may start with.
DRIVERS = {
    "postgresql": "postgresql+psycopg2",
    "postgresql+psycopg2": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
    "mysql+pymysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "mariadb+pymysql": "mariadb+pymysql",
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
}
IDENTITY_KINDS = ("email", "customer_id", "phone", "order_number")
ERASE_ACTIONS = ("delete", "anonymise", "retain")
#: Rows fetched per round trip from a server-side cursor.
STREAM_BATCH = 5000
#: Addresses read for one order number at most (an order belongs to one person; a shared
#: number across tables stays small).
_ORDER_EMAILS = 20
#: How long the catalogue read from a database is trusted before it is read again.
CATALOGUE_SECONDS = 300
#: Passes of one table's erasure within the transaction before leftovers count as a failure.
ERASE_PASSES = 2
#: The longest retention period by unit (200 years): dates beyond the calendar's end (year
#: 9999) would fail every erasure and retention run instead of the configuration.
RETENTION_LIMITS = {"years": 200, "months": 200 * 12, "days": 200 * 366}


# --- configuration, as written by staff -------------------------------------------------------


@dataclass(frozen=True)
class ColumnAction:
    """What an erasure writes into one column: NULL, a fixed value, or a keyed pseudonym."""

    kind: str
    value: Any = None


@dataclass(frozen=True)
class RetentionRule:
    basis: str
    period: relativedelta | None
    date_column: str | None
    then: str


@dataclass(frozen=True)
class TableConfig:
    name: str
    entity: str
    identities: Mapping[str, str]
    email_lower: bool
    parent: str | None
    on: Mapping[str, str]
    erase: str
    columns: Mapping[str, ColumnAction]
    retention: RetentionRule | None
    restrict_column: str | None
    order_number_column: str | None
    exclude: tuple[str, ...]
    descriptions: Mapping[str, ConfiguredText]
    #: The columns a portability request's copy holds: all exported (None), these, or none.
    portable: tuple[str, ...] | None = None

    def named_columns(self) -> set[str]:
        """Return every column the configuration names (to check against the catalogue)."""
        names = set(self.identities.values()) | set(self.on) | set(self.columns)
        names |= set(self.exclude) | set(self.descriptions) | set(self.portable or ())
        for extra in (
            self.restrict_column,
            self.order_number_column,
            self.retention.date_column if self.retention else None,
        ):
            if extra:
                names.add(extra)
        return names


@dataclass(frozen=True)
class StoreConfig:
    url: URL
    schema: str | None
    statement_timeout: int
    tables: Mapping[str, TableConfig]
    #: Table names, every child before the table it points to (the erasure order).
    children_first: tuple[str, ...]
    instructions: Mapping[str, str]
    #: The zone of the times the database keeps without one (``timestamp``, ``DATETIME``).
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))


def _fail(message: str, **params: Any) -> ConfigurationError:
    return ConfigurationError(message, **params)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(gettext_noop("%(where)s must be a non-empty text."), where=where)
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(gettext_noop("%(where)s must be an object ({…})."), where=where)
    return value


def _url(config: Mapping[str, Any], secrets: Mapping[str, str]) -> URL:
    raw = _text(config.get("url"), "url")
    try:
        url = sa.engine.make_url(raw)
    except sa.exc.ArgumentError:
        raise _fail(
            gettext_noop("url is not a database URL (e.g. postgresql://user@host:5432/database).")
        ) from None
    if url.drivername not in DRIVERS:
        raise _fail(
            gettext_noop("url: unsupported database %(driver)s; use one of: %(choices)s."),
            driver=url.drivername,
            choices="postgresql, mysql, mariadb, sqlite",
        )
    if url.password or names_a_credential(url.query, ("pass", "pwd")):
        raise _fail(
            gettext_noop(
                "url must not contain a password: enter it in the secret “password” field."
            )
        )
    url = url.set(drivername=DRIVERS[url.drivername])
    if url.drivername == "sqlite":
        if not url.database or url.database == ":memory:" or not os.path.isabs(url.database):
            raise _fail(gettext_noop("url: an SQLite database must be an absolute file path."))
        if secrets.get("password"):
            raise _fail(gettext_noop("An SQLite database has no password: leave the secret empty."))
    elif not url.host or not url.database:
        raise _fail(gettext_noop("url must name a host and a database."))
    if secrets.get("password"):
        url = url.set(password=secrets["password"])
    return url


def _period_words(period: relativedelta | None) -> str:
    if period is None:
        return ""
    return period_words(years=period.years, months=period.months, days=period.days)


def _column_action(value: Any, where: str) -> ColumnAction:
    if value in ("null", "hash"):
        return ColumnAction(str(value))
    if isinstance(value, Mapping) and set(value) == {"fixed"}:
        fixed = value["fixed"]
        if fixed is None or isinstance(fixed, str | int | float | bool):
            return ColumnAction("fixed", fixed)
    raise _fail(gettext_noop('%(where)s: use "null", "hash" or {"fixed": value}.'), where=where)


def _retention(value: Any, where: str) -> RetentionRule:
    data = _mapping(value, where)
    unknown = set(data) - {"basis", "years", "months", "days", "date_column", "then"}
    if unknown:
        raise _fail(
            gettext_noop("%(where)s: unknown keys %(keys)s."), where=where, keys=", ".join(unknown)
        )
    parts: dict[str, int] = {}
    for unit, longest in RETENTION_LIMITS.items():
        if unit in data:
            amount = data[unit]
            if (
                not isinstance(amount, int)
                or isinstance(amount, bool)
                or not 0 <= amount <= longest
            ):
                raise _fail(
                    gettext_noop(
                        "%(where)s.%(unit)s must be a whole number from 0 to %(longest)d."
                    ),
                    where=where,
                    unit=unit,
                    longest=longest,
                )
            parts[unit] = amount
    then = data.get("then", "delete")
    if then not in ("delete", "anonymise"):
        raise _fail(gettext_noop('%(where)s.then: use "delete" or "anonymise".'), where=where)
    date_column = data.get("date_column")
    if date_column is not None:
        _text(date_column, f"{where}.date_column")
    return RetentionRule(
        basis=_text(data.get("basis"), f"{where}.basis"),
        period=relativedelta(**parts) if any(parts.values()) else None,  # type: ignore[arg-type]
        date_column=date_column,
        then=then,
    )


_TABLE_KEYS = frozenset(
    {
        "entity",
        "identities",
        "email_match",
        "parent",
        "on",
        "erase",
        "columns",
        "retention",
        "restrict_column",
        "order_number_column",
        "exclude",
        "descriptions",
        "portable",
    }
)


def _table(name: str, data: Any) -> TableConfig:
    where = f"tables.{name}"
    data = _mapping(data, where)
    unknown = set(data) - _TABLE_KEYS
    if unknown:
        raise _fail(
            gettext_noop("%(where)s: unknown keys %(keys)s."),
            where=where,
            keys=", ".join(sorted(unknown)),
        )
    identities = {
        str(kind): _text(column, f"{where}.identities.{kind}")
        for kind, column in _mapping(data.get("identities"), f"{where}.identities").items()
    }
    bad = set(identities) - set(IDENTITY_KINDS)
    if bad:
        raise _fail(
            gettext_noop("%(where)s.identities: unknown identity %(kinds)s; use %(choices)s."),
            where=where,
            kinds=", ".join(sorted(bad)),
            choices=", ".join(IDENTITY_KINDS),
        )
    parent = data.get("parent")
    if parent is not None:
        parent = _text(parent, f"{where}.parent")
    if not identities and parent is None:
        raise _fail(
            gettext_noop(
                "%(where)s needs identities, a parent table, or both: otherwise no row is"
                " tied to a person."
            ),
            where=where,
        )
    on = {
        _text(child, f"{where}.on"): _text(target, f"{where}.on.{child}")
        for child, target in _mapping(data.get("on"), f"{where}.on").items()
    }
    if on and parent is None:
        raise _fail(gettext_noop("%(where)s.on needs a parent table."), where=where)
    erase = data.get("erase", "delete")
    if erase not in ERASE_ACTIONS:
        raise _fail(
            gettext_noop('%(where)s.erase: use "delete", "anonymise" or "retain".'), where=where
        )
    columns = {
        _text(column, f"{where}.columns"): _column_action(action, f"{where}.columns.{column}")
        for column, action in _mapping(data.get("columns"), f"{where}.columns").items()
    }
    if erase == "delete" and columns:
        raise _fail(gettext_noop("%(where)s: deleted rows need no column actions."), where=where)
    if erase == "anonymise" and not columns:
        raise _fail(
            gettext_noop("%(where)s: say which columns an erasure anonymises."), where=where
        )
    retention = None
    if "retention" in data:
        retention = _retention(data["retention"], f"{where}.retention")
    elif erase == "retain":
        raise _fail(
            gettext_noop(
                "%(where)s: a retained table needs a retention rule with its legal basis."
            ),
            where=where,
        )
    email_match = data.get("email_match", "exact")
    if email_match not in ("exact", "lower"):
        raise _fail(gettext_noop('%(where)s.email_match: use "exact" or "lower".'), where=where)
    exclude = data.get("exclude", [])
    if not isinstance(exclude, list):
        raise _fail(gettext_noop("%(where)s.exclude must be a list of columns."), where=where)
    for key in ("restrict_column", "order_number_column", "entity"):
        if data.get(key) is not None:
            _text(data[key], f"{where}.{key}")
    portable = data.get("portable", True)
    if isinstance(portable, list) and portable:
        portable = tuple(_text(c, f"{where}.portable") for c in portable)
    elif portable is True:
        portable = None
    elif portable is False:
        portable = ()
    else:
        raise _fail(
            gettext_noop("%(where)s.portable: use true, false or a list of columns."),
            where=where,
        )
    if portable and set(portable) & set(exclude):
        raise _fail(
            gettext_noop("%(where)s.portable names a column that exclude leaves out."),
            where=where,
        )
    return TableConfig(
        name=name,
        entity=str(data.get("entity") or name),
        identities=identities,
        email_lower=email_match == "lower",
        parent=parent,
        on=on,
        erase=erase,
        columns=columns,
        retention=retention,
        restrict_column=data.get("restrict_column"),
        order_number_column=data.get("order_number_column"),
        exclude=tuple(_text(c, f"{where}.exclude") for c in exclude),
        descriptions=texts_parse(data.get("descriptions"), f"{where}.descriptions"),
        portable=portable,
    )


def _children_first(tables: Mapping[str, TableConfig]) -> tuple[str, ...]:
    """Return the table names with every child before its parent; refuse cycles."""
    ordered: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise _fail(
                gettext_noop("tables: the parents form a cycle (%(cycle)s)."),
                cycle=" → ".join((*trail, name)),
            )
        state[name] = "visiting"
        for child in sorted(t.name for t in tables.values() if t.parent == name):
            visit(child, (*trail, name))
        state[name] = "done"
        ordered.append(name)

    for name in sorted(tables):
        if tables[name].parent is None:
            visit(name, ())
    left = [name for name in tables if state.get(name) != "done"]
    if left:
        raise _fail(
            gettext_noop("tables: the parents form a cycle (%(cycle)s)."),
            cycle=", ".join(sorted(left)),
        )
    return tuple(ordered)


def parse_config(config: Mapping[str, Any], secrets: Mapping[str, str]) -> StoreConfig:
    """Return the store's configuration, checked for shape (not yet against the database)."""
    unknown = set(config) - {
        "url",
        "schema",
        "statement_timeout_seconds",
        "time_zone",
        "tables",
        "instructions",
        "actions",
        "purpose_keys",
        "assigned_group",
    }
    if unknown:
        raise _fail(
            gettext_noop("Unknown configuration keys: %(keys)s."), keys=", ".join(sorted(unknown))
        )
    url = _url(config, secrets)
    tables_data = _mapping(config.get("tables"), "tables")
    if not tables_data:
        raise _fail(gettext_noop("tables: name at least one table that holds personal data."))
    tables = {str(name): _table(str(name), data) for name, data in tables_data.items()}
    for table in tables.values():
        if table.parent is not None and table.parent not in tables:
            raise _fail(
                gettext_noop(
                    "tables.%(table)s.parent: %(parent)s is not one of the configured tables."
                ),
                table=table.name,
                parent=table.parent,
            )
    entities = [table.entity for table in tables.values()]
    if len(set(entities)) != len(entities):
        raise _fail(gettext_noop("tables: two tables have the same entity name."))
    timeout = config.get("statement_timeout_seconds", 300)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 3600:
        raise _fail(
            gettext_noop("statement_timeout_seconds must be a whole number from 1 to 3600.")
        )
    schema = config.get("schema")
    if schema is not None:
        _text(schema, "schema")
    return StoreConfig(
        time_zone=_time_zone(config.get("time_zone", "UTC")),
        url=url,
        schema=schema,
        statement_timeout=timeout,
        tables=tables,
        children_first=_children_first(tables),
        instructions={
            str(k): str(v) for k, v in _mapping(config.get("instructions"), "instructions").items()
        },
    )


def _time_zone(value: Any) -> ZoneInfo:
    name = _text(value, "time_zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # also a folder or a file of tzdata
        raise _fail(
            gettext_noop(
                "time_zone: %(zone)s is not a time zone; use a name such as UTC or Europe/Berlin."
            ),
            zone=name[:64],
        ) from None


def _naive_times(columns: Sequence[sa.Column[Any]]) -> tuple[int, ...]:
    """Positions of the columns that keep times without their zone."""
    return tuple(
        index
        for index, column in enumerate(columns)
        if isinstance(column.type, sa.DateTime) and not column.type.timezone
    )


def _zoned(rows: Iterator[Sequence[Any]], at: tuple[int, ...], zone: ZoneInfo) -> Iterator[Any]:
    """``rows`` with the times at positions ``at`` read in the store's zone and written in UTC,
    as PostgreSQL writes its own, so that a copy says when, not what a clock showed somewhere."""
    for row in rows:
        row = list(row)
        for index in at:
            value = row[index]
            if isinstance(value, datetime) and value.tzinfo is None:
                row[index] = value.replace(tzinfo=zone).astimezone(UTC)
        yield row


# --- the configuration bound to the database's catalogue --------------------------------------


@dataclass(frozen=True)
class BoundTable:
    config: TableConfig
    table: sa.Table
    #: (column of this table, column of the parent table) pairs.
    link: tuple[tuple[sa.Column[Any], sa.Column[Any]], ...] = ()
    export_columns: tuple[sa.Column[Any], ...] = ()
    #: Each exported column's explanation, read in the person's language when written.
    descriptions: Mapping[str, StrOrPromise] = field(default_factory=dict)

    def copied_columns(self, *, portability: bool) -> tuple[sa.Column[Any], ...]:
        """Return the columns a copy holds: every exported one for access, the portable ones
        for portability (none: the table is left out)."""
        portable = self.config.portable
        if not portability or portable is None:
            return self.export_columns
        return tuple(column for column in self.export_columns if column.name in portable)

    def described(self, columns: Sequence[sa.Column[Any]]) -> dict[str, StrOrPromise]:
        """Return the explanations of ``columns``."""
        return {column.name: self.descriptions[column.name] for column in columns}


@dataclass(frozen=True)
class Catalogue:
    """The configured tables as the database declares them."""

    tables: Mapping[str, BoundTable]
    server: str


def _column(table: sa.Table, name: str, where: str) -> sa.Column[Any]:
    if name not in table.c:
        raise _fail(
            gettext_noop("Unknown column %(where)s: %(table)s has %(columns)s."),
            where=where,
            table=table.name,
            columns=", ".join(c.name for c in table.c),
        )
    column: sa.Column[Any] = table.c[name]
    return column


def _bind(conn: Connection, config: StoreConfig) -> Catalogue:
    """Read the configured tables from the database and check every name the configuration
    uses; raise ConfigurationError naming what is missing."""
    inspector = sa.inspect(conn)
    available = set(inspector.get_table_names(schema=config.schema))
    available |= set(inspector.get_view_names(schema=config.schema))
    missing = sorted(set(config.tables) - available)
    if missing:
        raise _fail(
            gettext_noop("Unknown table(s) %(missing)s; the database has: %(found)s."),
            missing=", ".join(missing),
            found=", ".join(sorted(available)) or "-",
        )
    metadata = sa.MetaData(schema=config.schema)
    reflected = {
        name: sa.Table(name, metadata, autoload_with=conn, resolve_fks=False)
        for name in config.tables
    }
    bound: dict[str, BoundTable] = {}
    for name, table_config in config.tables.items():
        table = reflected[name]
        for column_name in sorted(table_config.named_columns()):
            _column(table, column_name, f"{name}.{column_name}")
        for column_name, action in table_config.columns.items():
            column = table.c[column_name]
            if action.kind == "null" and not column.nullable:
                raise _fail(
                    gettext_noop(
                        "%(column)s cannot be NULL in the database: choose another action."
                    ),
                    column=f"{name}.{column_name}",
                )
            if action.kind == "hash":
                length = getattr(column.type, "length", None)
                if length is not None and length < 16:
                    raise _fail(
                        gettext_noop(
                            "%(column)s is too short for a pseudonym (16 characters or more)."
                        ),
                        column=f"{name}.{column_name}",
                    )
        retention = table_config.retention
        if retention and retention.date_column:
            kind = table.c[retention.date_column].type
            if not isinstance(kind, sa.Date | sa.DateTime):
                raise _fail(
                    gettext_noop("%(column)s is not a date or time column."),
                    column=f"{name}.{retention.date_column}",
                )
        link: tuple[tuple[sa.Column[Any], sa.Column[Any]], ...] = ()
        if table_config.parent is not None:
            link = _link(table, reflected[table_config.parent], table_config)
        excluded = set(table_config.exclude)
        export_columns = tuple(column for column in table.c if column.name not in excluded)
        configured = table_config.descriptions
        descriptions: dict[str, StrOrPromise] = {
            column.name: text_lazy(configured[column.name])
            if column.name in configured
            else (column.comment or "")
            for column in export_columns
        }
        bound[name] = BoundTable(table_config, table, link, export_columns, descriptions)
    _check_foreign_keys(config, reflected)
    dialect = conn.dialect
    version = ".".join(str(part) for part in (dialect.server_version_info or ())[:3])
    return Catalogue(bound, f"{dialect.name} {version}".strip())


def _link(
    table: sa.Table, parent: sa.Table, config: TableConfig
) -> tuple[tuple[sa.Column[Any], sa.Column[Any]], ...]:
    if config.on:
        return tuple(
            (table.c[child], _column(parent, target, f"{parent.name}.{target}"))
            for child, target in config.on.items()
        )
    constraints = [
        constraint
        for constraint in table.foreign_key_constraints
        if {_target(fk)[0] for fk in constraint.elements} == {parent.name}
    ]
    if len(constraints) != 1:
        raise _fail(
            gettext_noop(
                "%(table)s has %(n)s foreign keys to %(parent)s: name the columns with “on”."
            ),
            table=table.name,
            n=len(constraints),
            parent=parent.name,
        )
    return tuple(
        (fk.parent, _column(parent, _target(fk)[1], f"{parent.name}.{_target(fk)[1]}"))
        for fk in constraints[0].elements
    )


def _target(fk: sa.ForeignKey) -> tuple[str, str]:
    """Return the (table, column) a foreign key points to, read without resolving it."""
    table, column = fk.target_fullname.rsplit(".", 2)[-2:]
    return table, column


def _check_foreign_keys(config: StoreConfig, reflected: Mapping[str, sa.Table]) -> None:
    """Refuse a configuration that deletes rows which kept rows still point to (the database
    would refuse the erasure)."""
    for name, table in reflected.items():
        for constraint in table.foreign_key_constraints:
            target = {_target(fk)[0] for fk in constraint.elements}
            if len(target) != 1:
                continue
            (target_name,) = target
            target_config = config.tables.get(target_name)
            child = config.tables[name]
            if target_config is None or target_config.erase != "delete" or child.erase == "delete":
                continue
            nulled = {c for c, action in child.columns.items() if action.kind == "null"}
            if not {fk.parent.name for fk in constraint.elements} <= nulled:
                raise _fail(
                    gettext_noop(
                        "%(child)s keeps rows that point to %(parent)s (foreign key %(columns)s),"
                        " whose rows are deleted: set %(columns)s to null on erasure, or"
                        " anonymise %(parent)s instead of deleting it."
                    ),
                    child=name,
                    parent=target_name,
                    columns=", ".join(f"{name}.{fk.parent.name}" for fk in constraint.elements),
                )


# --- engines and catalogues, kept per process ---------------------------------------------------

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_catalogues: dict[str, tuple[float, Catalogue]] = {}


def _forget_after_fork() -> None:
    # A forked worker must not share its parent's connections.
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    _catalogues.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _engine_key(url: URL, timeout: int) -> str:
    text = url.render_as_string(hide_password=False) + f"|{timeout}"
    return hashlib.sha256(text.encode()).hexdigest()


def _connect_args(url: URL, timeout: int) -> dict[str, Any]:
    if url.drivername.startswith("postgresql"):
        return {
            "connect_timeout": 5,
            "application_name": "inper-privacy-portal",
            "options": f"-c statement_timeout={timeout * 1000} -c lock_timeout=10000",
        }
    if url.drivername.startswith(("mysql", "mariadb")):
        return {
            "connect_timeout": 5,
            "read_timeout": timeout,
            "write_timeout": timeout,
            "init_command": "SET SESSION innodb_lock_wait_timeout = 10",
        }
    return {"timeout": 10}


def _existing_file(url: URL) -> URL:
    """Return an SQLite URL that opens its file only if it exists: SQLite would otherwise
    create an empty database wherever a mistyped path points (and find no tables in it)."""
    if url.query.get("uri"):
        return url
    query = {"uri": "true", **({} if "mode" in url.query else {"mode": "rw"})}
    return url.set(database=f"file:{quote(str(url.database))}").update_query_dict(query)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


#: SQLite's ``lower()`` changes only A to Z: ``email_match: "lower"`` must find "ÄNNA@…" for
#: "änna@…" there too (and the erasure's own check see it if it were left). A function of its
#: own, not ``lower`` overridden, so that an index the shop built on ``lower()`` stays valid.
_SQLITE_LOWER = "portal_lower"


def _sqlite_unicode_lower(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function(_SQLITE_LOWER, 1, _unicode_lower, deterministic=True)


def get_engine(url: URL, timeout: int) -> Engine:
    """Return this process's engine for ``url`` (pooled, with timeouts)."""
    key = _engine_key(url, timeout)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            options: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800}
            connect = url
            if url.drivername == "sqlite":
                connect = _existing_file(url)
            else:
                options.update(pool_size=2, max_overflow=4, pool_timeout=10)
            engine = sa.create_engine(connect, connect_args=_connect_args(url, timeout), **options)
            if url.drivername == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_unicode_lower)
            _engines[key] = engine
    return engine


# --- database errors, in words for staff --------------------------------------------------------

_TEMPORARY_PG_CODES = frozenset({"40001", "40P01", "55P03", "57014", "57P01", "57P03", "53300"})


def _code(error: BaseException) -> str:
    original = getattr(error, "orig", None)
    pgcode = getattr(original, "pgcode", None)
    if pgcode:
        return str(pgcode)
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int):
        return str(args[0])
    return ""


def _connection_problem(error: BaseException, url: URL) -> StoreError | None:
    """Return the store error for a failure to connect, or None if it is not one."""
    text = str(getattr(error, "orig", error)).lower()
    if "password authentication failed" in text or "access denied" in text:
        return PermanentStoreError(gettext_noop("The database refused the user name or password."))
    if ("does not exist" in text and "database" in text) or "unknown database" in text:
        return PermanentStoreError(
            gettext_noop("The database %(name)s does not exist on the server."), name=url.database
        )
    if "unable to open database file" in text:
        return PermanentStoreError(gettext_noop("The SQLite file cannot be opened."))
    unreachable = (
        "connection refused",
        "could not connect",
        "can't connect",
        "timeout",
        "timed out",
        "could not translate host",
        "name or service not known",
        "no route",
    )
    if any(marker in text for marker in unreachable):
        where = f"{url.host}:{url.port or ''}".rstrip(":")
        return TemporaryStoreError(
            gettext_noop("The database server at %(where)s cannot be reached."), where=where
        )
    return None


def _store_error(error: BaseException, url: URL) -> StoreError:
    """Return the store error for a database error, without SQL text or values."""
    code = _code(error)
    problem = _connection_problem(error, url)
    if problem is not None:
        return problem
    name = error.__class__.__name__
    if code in _TEMPORARY_PG_CODES or code in ("1205", "1213", "2006", "2013"):
        return TemporaryStoreError(
            gettext_noop("The database was busy or timed out (%(code)s)."), code=code
        )
    # The error's class and code, as far as there is one (SQLite's errors have none).
    said = f"{name} {code}".strip()
    if isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError):
        return TemporaryStoreError(
            gettext_noop("The database could not be used (%(error)s)."), error=said
        )
    if isinstance(error, sa.exc.ArgumentError):
        # Nothing reached the database: its URL or secrets do not suit its kind.
        return PermanentStoreError(
            gettext_noop(
                "The store's settings do not suit its database (%(error)s): check its URL and "
                "its secrets."
            ),
            error=said,
        )
    if isinstance(error, sa.exc.IntegrityError):
        return PermanentStoreError(
            gettext_noop(
                "The database refused the change (constraint %(code)s): check the erasure"
                " configuration of this store."
            ),
            code=code,
        )
    return PermanentStoreError(
        gettext_noop("The database refused the statement (%(error)s)."), error=said
    )


# --- the connector -------------------------------------------------------------------------------


class SQLConnector(Connector):
    """An external SQL database (PostgreSQL, MariaDB/MySQL, SQLite)."""

    kind: ClassVar[str] = "sql"
    supports: ClassVar[frozenset[str]] = frozenset(
        {"locate", "export", "erase", "restrict", "rectify", "reidentify"}
    )
    secret_keys: ClassVar[frozenset[str]] = frozenset({"password"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._parsed: StoreConfig | None = None

    @classmethod
    def validate_config(cls, config: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        parse_config(connector_config(config), secrets)

    @property
    def settings(self) -> StoreConfig:
        if self._parsed is None:
            self._parsed = parse_config(self.config, self.secrets)
        return self._parsed

    @property
    def engine(self) -> Engine:
        return get_engine(self.settings.url, self.settings.statement_timeout)

    # -- connections and the catalogue --

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except sa.exc.SQLAlchemyError as error:
            raise _store_error(error, self.settings.url) from None

    @contextmanager
    def _transaction(self, *, readonly: bool = False) -> Iterator[tuple[Connection, Catalogue]]:
        """Yield a connection in one transaction (committed at the end, rolled back on error)
        and the checked catalogue."""
        with self._errors():
            engine = self.engine
            with engine.connect() as conn:
                if readonly and engine.dialect.name == "postgresql":
                    # One snapshot for the whole export, and no chance of writing.
                    conn = conn.execution_options(
                        isolation_level="REPEATABLE READ", postgresql_readonly=True
                    )
                with conn.begin():
                    yield conn, self._catalogue(conn)

    @contextmanager
    def _snapshot_helper(self, conn: Connection) -> Iterator[Connection]:
        """Yield a second connection that sees exactly what ``conn`` sees (PostgreSQL's
        exported snapshot), so that an export's CSV and JSON are made at the same time."""
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        with self.engine.connect() as helper:
            helper = helper.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            with helper.begin():
                helper.exec_driver_sql("SET TRANSACTION SNAPSHOT %(id)s", {"id": snapshot})
                yield helper

    def _catalogue(self, conn: Connection, *, fresh: bool = False) -> Catalogue:
        key = (
            _engine_key(self.settings.url, 0)
            + hashlib.sha256(
                json.dumps(self.config, sort_keys=True, default=str).encode()
            ).hexdigest()
        )
        now = time.monotonic()
        cached = _catalogues.get(key)
        if cached and not fresh and cached[0] > now:
            return cached[1]
        catalogue = _bind(conn, self.settings)
        with _lock:
            _catalogues[key] = (now + CATALOGUE_SECONDS, catalogue)
        return catalogue

    # -- which rows are the person's --

    def _scope(
        self,
        catalogue: Catalogue,
        seed: Callable[[BoundTable], ColumnElement[bool] | None],
    ) -> dict[str, ColumnElement[bool]]:
        """Return, per table, the condition of the rows in scope: the table's own ``seed``
        condition, or pointing to an in-scope row of its parent (followed up the chain)."""
        memo: dict[str, ColumnElement[bool] | None] = {}

        def condition(name: str) -> ColumnElement[bool] | None:
            if name in memo:
                return memo[name]
            bound = catalogue.tables[name]
            clauses = []
            own = seed(bound)
            if own is not None:
                clauses.append(own)
            if bound.config.parent is not None:
                parent = condition(bound.config.parent)
                if parent is not None:
                    children = [child for child, _ in bound.link]
                    targets = [target for _, target in bound.link]
                    keys = sa.select(*targets).where(parent)
                    clauses.append(
                        children[0].in_(keys)
                        if len(children) == 1
                        else sa.tuple_(*children).in_(keys)
                    )
            memo[name] = sa.or_(*clauses) if clauses else None
            return memo[name]

        found = {name: condition(name) for name in catalogue.tables}
        return {name: clause for name, clause in found.items() if clause is not None}

    def _subject_scope(
        self, catalogue: Catalogue, subject: Subject
    ) -> dict[str, ColumnElement[bool]]:
        # MariaDB and MySQL compare text by collation: "_ci" ones hold "Anna@", "anna@",
        # "änna@" and "anna@ " equal. Only the person's exact identity is theirs.
        loose = self.settings.url.drivername.startswith(("mysql", "mariadb"))
        lower = (
            getattr(sa.func, _SQLITE_LOWER)
            if self.settings.url.drivername == "sqlite"
            else sa.func.lower
        )

        def identities(bound: BoundTable) -> ColumnElement[bool] | None:
            clauses = []
            for kind, column_name in bound.config.identities.items():
                values = subject.identity(kind)
                if not values:
                    continue
                column: ColumnElement[Any] = bound.table.c[column_name]
                if kind == "email":
                    values = tuple(value.lower() for value in values)
                    if bound.config.email_lower:
                        column = lower(column)
                clause = column.in_(values) if len(values) > 1 else column == values[0]
                if loose and isinstance(bound.table.c[column_name].type, sa.String):
                    clause = sa.and_(clause, _same_characters(column, values))
                clauses.append(clause)
            return sa.or_(*clauses) if clauses else None

        return self._scope(catalogue, identities)

    def _pseudonym(self, subject: Subject, column: sa.Column[Any]) -> str:
        value = keyed_hash(subject.email, purpose=f"sql-store:{self.store_key}")
        length = getattr(column.type, "length", None)
        return value[:length] if length else value

    def _erased_values(self, bound: BoundTable, subject: Subject) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, action in bound.config.columns.items():
            if action.kind == "null":
                values[name] = None
            elif action.kind == "fixed":
                values[name] = action.value
            else:
                values[name] = self._pseudonym(subject, bound.table.c[name])
        return values

    @staticmethod
    def _not_erased(bound: BoundTable, values: Mapping[str, Any]) -> ColumnElement[bool]:
        return sa.or_(
            *(
                bound.table.c[name].is_not(None)
                if value is None
                else bound.table.c[name].is_distinct_from(value)
                for name, value in values.items()
            )
        )

    @staticmethod
    def _count(conn: Connection, table: sa.Table, where: ColumnElement[bool]) -> int:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar_one()
        )

    # -- actions --

    def health_check(self) -> HealthResult:
        try:
            with self._errors(), self.engine.connect() as conn:
                catalogue = self._catalogue(conn, fresh=True)
        except StoreError as error:
            return HealthResult(False, str(error))
        return HealthResult(
            True,
            _("Connected to %(server)s; %(n)d tables and every configured column found.")
            % {"server": catalogue.server, "n": len(catalogue.tables)},
        )

    def locate(self, subject: Subject) -> LocateResult:
        counts: dict[str, int] = {}
        with self._transaction(readonly=True) as (conn, catalogue):
            for name, where in self._subject_scope(catalogue, subject).items():
                bound = catalogue.tables[name]
                count = self._count(conn, bound.table, where)
                if count:
                    counts[bound.config.entity] = count
        return LocateResult(counts)

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult:
        counts: dict[str, int] = {}
        raw_table = getattr(sink, "raw_table", None)
        with self._transaction(readonly=True) as (conn, catalogue), ExitStack() as stack:
            helper = None
            if raw_table is not None and conn.dialect.name == "postgresql":
                helper = stack.enter_context(self._snapshot_helper(conn))
            scope = self._subject_scope(catalogue, subject)
            names = [name for name in reversed(self.settings.children_first) if name in scope]
            columns = {
                name: catalogue.tables[name].copied_columns(portability=self.portability)
                for name in names
            }
            names = [name for name in names if columns[name]]
            if raw_table is not None and helper is not None:
                bounds = [(catalogue.tables[name], columns[name], scope[name]) for name in names]
                copied = _copy_tables(conn, helper, bounds, raw_table, self.settings.time_zone)
                return ExportResult({entity: n for entity, n in copied.items() if n})
            for name in names:
                bound = catalogue.tables[name]
                statement = sa.select(*columns[name]).where(scope[name])
                result = conn.execution_options(
                    stream_results=True, yield_per=STREAM_BATCH
                ).execute(statement)
                try:
                    rows = _rows(result)
                    naive = _naive_times(columns[name])
                    if naive:
                        rows = _zoned(rows, naive, self.settings.time_zone)
                    first = next(rows, None)
                    if first is None:
                        continue
                    counts[bound.config.entity] = sink.table(
                        bound.config.entity,
                        [column.name for column in columns[name]],
                        _chain(first, rows),
                        descriptions=bound.described(columns[name]),
                    )
                finally:
                    result.close()
        return ExportResult(counts)

    def erase(self, subject: Subject) -> EraseResult:
        deleted: dict[str, int] = {}
        anonymised: dict[str, int] = {}
        retained: list[Retention] = []
        remaining: dict[str, int] = {}
        today = timezone.localdate()
        with self._transaction() as (conn, catalogue):
            scope = self._subject_scope(catalogue, subject)
            for name in self.settings.children_first:
                if name not in scope:
                    continue
                bound = catalogue.tables[name]
                config, table, where = bound.config, bound.table, scope[name]
                if config.erase == "retain":
                    retained_rule = self._retained(conn, catalogue, bound, where, today)
                    if retained_rule is not None:
                        retained.append(retained_rule)
                if config.erase == "delete":
                    statement: Any = sa.delete(table).where(where)
                    left_over = where
                elif config.columns:
                    values = self._erased_values(bound, subject)
                    left_over = sa.and_(where, self._not_erased(bound, values))
                    statement = sa.update(table).where(left_over).values(values)
                else:
                    continue
                done, left = 0, 0
                for _pass in range(ERASE_PASSES):
                    done += conn.execute(statement).rowcount or 0
                    left = self._count(conn, table, left_over)
                    if not left:
                        break
                if left:
                    raise TemporaryStoreError(
                        gettext_noop(
                            "%(n)d records of %(entity)s were still there after the erasure"
                            " (written meanwhile?); nothing was changed."
                        ),
                        n=left,
                        entity=config.entity,
                    )
                remaining[config.entity] = 0
                if done:
                    target = deleted if config.erase == "delete" else anonymised
                    target[config.entity] = done
        return EraseResult(deleted, anonymised, tuple(reversed(retained)), remaining)

    def _retained(
        self,
        conn: Connection,
        catalogue: Catalogue,
        bound: BoundTable,
        where: ColumnElement[bool],
        today: date,
    ) -> Retention | None:
        """Return what the erasure keeps of ``bound`` (its rows in ``where``), and until when:
        each row's date plus the period of the rule that dates it (see :func:`_dated_rows`),
        the last of them and the first. Rows that nothing dates are kept from ``today``."""
        rule = bound.config.retention
        if rule is None:
            return None
        count = self._count(conn, bound.table, where)
        if not count:
            return None
        until: date | None = None
        first_until: date | None = None
        dated = _dated_rows(catalogue, bound, where)
        if dated is not None:
            column, rows, period = dated
            first, latest = conn.execute(
                sa.select(sa.func.min(column), sa.func.max(column)).where(rows)
            ).one()
            if period is not None:
                first_until = _day(first, today) + period
                until = _day(latest, today) + period
        elif rule.period is not None:
            first_until = until = today + rule.period
        kept = tuple(
            column.name for column in bound.table.c if column.name not in bound.config.columns
        )
        return Retention(bound.config.entity, count, rule.basis, until, kept, first_until)

    def restrict(self, subject: Subject, *, lift: bool = False) -> RestrictResult | Pending:
        if not any(table.restrict_column for table in self.settings.tables.values()):
            # Nothing to mark in this database: a person does it, if there is anything.
            if not self.locate(subject).found:
                return RestrictResult({}, lifted=lift)
            return Pending("manual", self._instructions("lift_restriction" if lift else "restrict"))
        counts: dict[str, int] = {}
        with self._transaction() as (conn, catalogue):
            for name, where in self._subject_scope(catalogue, subject).items():
                bound = catalogue.tables[name]
                column = bound.config.restrict_column
                if column is None:
                    continue
                count = conn.execute(
                    sa.update(bound.table).where(where).values({column: not lift})
                ).rowcount
                if count:
                    counts[bound.config.entity] = count
        return RestrictResult(counts, lifted=lift)

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> RectifyResult | Pending:
        # What is wrong is described in words; a person applies it where the records are.
        if not self.locate(subject).found:
            return RectifyResult({})
        return Pending("manual", self._instructions("rectify"))

    def _instructions(self, action: str) -> str:
        text = self.settings.instructions.get(action)
        if text:
            return text
        if action == "rectify":
            return _(
                "Correct this person's records in this database as the request describes "
                "(see the request's details), then complete this step with a note."
            )
        if action == "lift_restriction":
            return _(
                "Lift the restriction of this person's records in this database (they may be "
                "processed again), then complete this step with a note."
            )
        return _(
            "Mark this person's records in this database as restricted (no processing except "
            "storage), then complete this step with a note."
        )

    def confirm_identity(self, subject: Subject) -> bool:
        if not subject.order_numbers:
            return False
        without = replace(subject, order_numbers=())
        with self._transaction(readonly=True) as (conn, catalogue):
            scope = self._subject_scope(catalogue, without)
            for name, bound in catalogue.tables.items():
                column = bound.config.order_number_column
                if column is None or name not in scope:
                    continue
                statement = (
                    sa.select(sa.literal(1))
                    .select_from(bound.table)
                    .where(
                        _order_number_in(bound.table.c[column], subject.order_numbers), scope[name]
                    )
                    .limit(1)
                )
                if conn.execute(statement).first() is not None:
                    return True
        return False

    def emails_for_order_number(self, order_number: str) -> list[str]:
        found: set[str] = set()
        with self._transaction(readonly=True) as (conn, catalogue):
            for bound in catalogue.tables.values():
                column = bound.config.order_number_column
                if column is None:
                    continue
                # The order's rows, then up the parent chain to a table with the address.
                # As typed, or in capitals ("inp-100006"): both by the column's index.
                typed = sorted({order_number.strip(), order_number.strip().upper()})
                current: BoundTable | None = bound
                where: ColumnElement[bool] = bound.table.c[column].in_(typed)
                while current is not None and current.config.identities.get("email") is None:
                    current, where = _parent_rows(catalogue, current, where)
                if current is None:
                    continue
                email = current.config.identities["email"]
                statement = sa.select(current.table.c[email]).where(where).limit(_ORDER_EMAILS)
                found.update(str(value).strip().lower() for (value,) in conn.execute(statement))
        return sorted(found)

    def subjects_by_hash(self, erased: Mapping[str, Mapping[str, datetime]]) -> list[Subject]:
        # The tables declare no creation column: whoever has the address is returned.
        hashes = erased.get("email", {})
        found: set[str] = set()
        with self._transaction(readonly=True) as (conn, catalogue):
            for bound in catalogue.tables.values():
                column_name = bound.config.identities.get("email")
                if column_name is None:
                    continue
                column = bound.table.c[column_name]
                result = conn.execution_options(
                    stream_results=True, yield_per=STREAM_BATCH
                ).execute(sa.select(column).where(column.is_not(None)).distinct())
                try:
                    for (email,) in _rows(result):
                        if email_hash(str(email)) in hashes:
                            found.add(str(email).strip().lower())
                finally:
                    result.close()
        return [Subject(email=email) for email in sorted(found)]

    def erasure_plan(self) -> list[PlannedErasure]:
        plan = []
        for name in reversed(self.settings.children_first):
            config = self.settings.tables[name]
            rule = config.retention
            plan.append(
                PlannedErasure(
                    entity=config.entity,
                    action=config.erase,
                    fields=tuple(config.columns),
                    basis=rule.basis if rule and config.erase == "retain" else "",
                    period=_period_words(rule.period) if rule and config.erase == "retain" else "",
                )
            )
        return plan

    def apply_retention(self, *, now: datetime, dry_run: bool = False) -> RetentionRun:
        deleted: dict[str, int] = {}
        anonymised: dict[str, int] = {}
        with self._transaction() as (conn, catalogue):
            for name in reversed(self.settings.children_first):
                bound = catalogue.tables[name]
                rule = bound.config.retention
                if rule is None or rule.period is None or rule.date_column is None:
                    continue
                cutoff = now - rule.period
                date_column = bound.table.c[rule.date_column]
                if not getattr(date_column.type, "timezone", False):
                    cutoff = cutoff.astimezone(self.settings.time_zone).replace(tzinfo=None)

                seed = _only(name, date_column < cutoff)
                scope = self._scope(catalogue, seed)
                for scoped in self.settings.children_first:
                    if scoped not in scope:
                        continue
                    target = catalogue.tables[scoped]
                    where = scope[scoped]
                    entity = target.config.entity
                    if scoped == name and rule.then == "anonymise":
                        values = {
                            column: None if action.kind == "null" else action.value
                            for column, action in target.config.columns.items()
                            if action.kind != "hash"
                        }
                        if not values:
                            continue
                        where = sa.and_(where, self._not_erased(target, values))
                        count = (
                            self._count(conn, target.table, where)
                            if dry_run
                            else conn.execute(
                                sa.update(target.table).where(where).values(values)
                            ).rowcount
                        )
                        if count:
                            anonymised[entity] = anonymised.get(entity, 0) + count
                        continue
                    count = (
                        self._count(conn, target.table, where)
                        if dry_run
                        else conn.execute(sa.delete(target.table).where(where)).rowcount
                    )
                    if count:
                        deleted[entity] = deleted.get(entity, 0) + count
        return RetentionRun(deleted, anonymised, dry_run)


# --- PostgreSQL: the database encodes the export itself (see ``pgcopy``) ------------------------
#
# The statements are compiled by SQLAlchemy and their parameters escaped by psycopg2
# (``mogrify``, the driver's usual client-side binding); nothing else is formatted into them.


#: A column as ``COPY`` reads it: itself, or its times in the store's zone.
_Copied = sa.Column[Any] | sa.Label[Any]


def _as_text(column: _Copied) -> ColumnElement[Any]:
    kind = column.type
    if isinstance(kind, sa.LargeBinary):
        return sa.func.encode(column, "hex")
    if isinstance(kind, sa.Boolean | sa.Integer | sa.Numeric | sa.String):
        return sa.cast(column, sa.Text)
    # Dates, times, JSON, arrays, addresses and the rest: as JSON renders them (ISO 8601;
    # jsonb's spacing, which is Python's).
    return sa.func.to_jsonb(column).op("#>>")(sa.literal("{}"))


def _csv_expression(column: _Copied) -> ColumnElement[Any]:
    text = _as_text(column)
    if isinstance(column.type, sa.Integer | sa.Numeric | sa.Boolean):
        return text.label(column.name)  # a spreadsheet shows it as it is
    # As ``privacy_portal.spreadsheet.formula_risk``; the pattern is tried only on the few
    # cells that start like a formula.
    risky = sa.and_(
        sa.func.ascii(text).in_(FORMULA_CODES),
        sa.not_(text.regexp_match(f"^{NUMBER_LIKE}$")),
    )
    return sa.case((risky, sa.literal("'") + text), else_=text).label(column.name)


def _json_expression(column: _Copied) -> ColumnElement[Any]:
    kind = column.type
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return sa.cast(column, sa.Text).label(column.name)
    if isinstance(kind, sa.LargeBinary):
        return sa.func.encode(column, "hex").label(column.name)
    return column.label(column.name)


def _copy_sql(cursor: Any, conn: Connection, statement: Any) -> str:
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    return str(cursor.mogrify(str(compiled), compiled.params).decode())


def _copy_tables(
    conn: Connection,
    helper: Connection,
    tables: Sequence[tuple[BoundTable, Sequence[sa.Column[Any]], ColumnElement[bool]]],
    raw_table: Callable[..., Any],
    zone: ZoneInfo,
) -> dict[str, int]:
    """Export the tables (each with its columns to copy and the clause selecting the person's
    rows) with ``COPY`` into
    the sink's raw tables, on ``conn`` and ``helper`` (same snapshot; see ``pgcopy``); return
    the record counts by entity."""
    main, second = conn.connection.driver_connection, helper.connection.driver_connection
    assert main is not None and second is not None  # noqa: S101 (live connections)
    with main.cursor() as cursor, second.cursor() as helper_cursor:
        copies = []
        for bound, plain, where in tables:
            naive = _naive_times(plain)
            # Times kept without a zone are read in the store's (``AT TIME ZONE``).
            columns = [
                sa.func.timezone(zone.key, column, type_=sa.DateTime(timezone=True)).label(
                    column.name
                )
                if index in naive
                else column
                for index, column in enumerate(plain)
            ]
            as_csv = sa.select(*(_csv_expression(column) for column in columns)).where(where)
            rows = sa.select(*(_json_expression(c) for c in columns)).where(where).subquery("r")
            as_json = sa.select(sa.func.row_to_json(rows.table_valued()))
            copies.append(
                EntityCopy(
                    bound.config.entity,
                    [column.name for column in columns],
                    bound.described(plain),
                    _copy_sql(cursor, conn, as_csv),
                    _copy_sql(cursor, conn, as_json),
                )
            )
        return copy_entities(
            raw_table=raw_table, entities=copies, cursor=cursor, helper=helper_cursor
        )


def _same_characters(column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
    """Return the condition that ``column`` holds one of ``values`` character for character
    (MariaDB/MySQL: compared as UTF-8 bytes, whatever the column's collation, which decides
    what ``=`` holds equal; the plain comparison beside it keeps the column's index in use)."""
    as_bytes = sa.cast(sa.cast(column, mysql.CHAR(charset="utf8mb4")), sa.LargeBinary)
    encoded = [value.encode() for value in values]
    return as_bytes.in_(encoded) if len(encoded) > 1 else as_bytes == encoded[0]


def _parent_rows(
    catalogue: Catalogue, bound: BoundTable, where: ColumnElement[bool]
) -> tuple[BoundTable | None, ColumnElement[bool]]:
    """Return the parent table of ``bound`` and the condition of its rows that ``bound``'s
    rows in ``where`` point to (None: ``bound`` has no parent)."""
    if bound.config.parent is None or not bound.link:
        return None, where
    children = [child for child, _ in bound.link]
    targets = [target for _, target in bound.link]
    keys = sa.select(*children).where(where)
    pointed = targets[0].in_(keys) if len(targets) == 1 else sa.tuple_(*targets).in_(keys)
    return catalogue.tables[bound.config.parent], pointed


def _dated_rows(
    catalogue: Catalogue, bound: BoundTable, where: ColumnElement[bool]
) -> tuple[sa.Column[Any], ColumnElement[bool], relativedelta | None] | None:
    """Return the date column that dates ``bound``'s rows in ``where``, the condition of the
    rows holding those dates, and the period counted from them; None if nothing dates them.

    A table whose retention rule names a ``date_column`` dates itself. One without it goes
    with the rows it belongs to (an order's lines with their order): the retention job
    deletes them once those reach the end of their period, in the nearest parent table whose
    rule names a date column, so theirs are the dates and the period."""
    current: BoundTable | None = bound
    while current is not None:
        rule = current.config.retention
        if rule is not None and rule.date_column and (current is bound or rule.period):
            return current.table.c[rule.date_column], where, rule.period
        current, where = _parent_rows(catalogue, current, where)
    return None


def _day(value: Any, today: date) -> date:
    """Return the day of a date column's value (``today`` if there is none)."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else today


def _only(
    name: str, clause: ColumnElement[bool]
) -> Callable[[BoundTable], ColumnElement[bool] | None]:
    """Return a scope seed that holds ``clause`` for table ``name`` only."""
    return lambda bound: clause if bound.config.name == name else None


def _rows(result: sa.CursorResult[Any]) -> Iterator[Sequence[Any]]:
    for partition in result.partitions():
        yield from partition


def _chain(first: Sequence[Any], rest: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    yield first
    yield from rest


def _order_number_in(column: Any, typed: Sequence[str]) -> Any:
    """Whether ``column`` holds one of the order numbers a person typed, as people type them:
    "inp-100006" for "INP-100006", with spaces around. Among one person's orders (the caller's
    scope), so comparing in upper case costs no index."""
    numbers = sorted({number.strip() for number in typed if number.strip()})
    if not isinstance(column.type, sa.String):
        return column.in_(numbers)
    return sa.func.upper(column).in_(sorted({number.upper() for number in numbers}))
