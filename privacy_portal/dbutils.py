"""Database-level guarantees used by migrations, and rows written by SQL of our own (hot
paths where one precompiled statement replaces several of the ORM's)."""

from __future__ import annotations

from typing import Any

from django.db import connection, migrations
from django.db.models import Field, Model


def parsed_id(text: str) -> int | None:
    """Return ``text`` as a whole number that fits a database id (at most 18 ASCII digits),
    or None: what an address or a form field sends is not parsed beyond that (Python refuses
    to convert numbers of more than 4,300 digits, and PostgreSQL ids beyond 64 bits)."""
    if text.isascii() and text.isdecimal() and len(text) <= 18:
        return int(text)
    return None


def insert_params(instance: Model, fields: tuple[Field[Any, Any], ...]) -> list[Any]:
    """``instance``'s values of ``fields`` as the database takes them (as ``save`` sends them)."""
    return [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]


def insert_into(model: type[Model]) -> tuple[tuple[Field[Any, Any], ...], str, str]:
    """For an INSERT of ``model`` written by hand: the fields it writes in column order (all
    but the primary key), the quoted ``table (columns)`` and one row's placeholders."""
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    columns = ", ".join(quoted_column(model, f.name) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return fields, f"{quoted_table(model)} ({columns})", row


def quoted_column(model: type[Model], name: str) -> str:
    """The quoted column of ``model``'s field ``name``."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.column  # noqa: S101  # nosec B101
    return connection.ops.quote_name(field.column)


def quoted_table(model: type[Model]) -> str:
    """The quoted table of ``model``."""
    return connection.ops.quote_name(model._meta.db_table)


def mark_saved(instance: Any, pk: int) -> Any:
    """Mark ``instance``, inserted by SQL of our own, as saved with primary key ``pk``."""
    instance.pk = pk
    instance._state.adding, instance._state.db = False, connection.alias
    return instance


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION portal_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


#: The session setting that lets a connection TRUNCATE an append-only table (the test suite's
#: flushes, the benchmarks' reloads); nothing in the portal sets it.
TRUNCATE_ALLOWED = "portal.allow_truncate"

_PG_TRUNCATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION portal_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('{TRUNCATE_ALLOWED}', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'rows of % are append-only: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def refuse_truncate(*tables: str) -> migrations.RunPython:
    """Return a migration operation that makes PostgreSQL refuse TRUNCATE of ``tables`` (which
    skips the row triggers of :func:`append_only`), unless the connection set
    :data:`TRUNCATE_ALLOWED`. SQLite has no TRUNCATE; MariaDB's fires no triggers."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(_PG_TRUNCATE_FUNCTION, params=None)
        for table in tables:
            schema_editor.execute(
                f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON "{table}" '
                "FOR EACH STATEMENT EXECUTE FUNCTION portal_refuse_truncate()"
            )

    def backwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in tables:
            schema_editor.execute(f'DROP TRIGGER IF EXISTS {table}_no_truncate ON "{table}"')

    return migrations.RunPython(forwards, backwards, elidable=False)


def append_only(table: str) -> migrations.RunPython:
    """Return a migration operation that makes the database refuse UPDATE and DELETE on
    ``table`` (PostgreSQL and MariaDB/MySQL triggers; SQLite triggers for the embedded default)."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        name = f"{table}_append_only"
        if vendor == "postgresql":
            schema_editor.execute(_PG_FUNCTION, params=None)
            schema_editor.execute(
                f'CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON "{table}" '
                "FOR EACH ROW EXECUTE FUNCTION portal_refuse_change()"
            )
        elif vendor == "sqlite":
            for operation in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f'CREATE TRIGGER {name}_{operation.lower()} BEFORE {operation} ON "{table}" '
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        elif vendor == "mysql":
            for operation in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {name}_{operation.lower()} BEFORE {operation} ON `{table}` "
                    "FOR EACH ROW SIGNAL SQLSTATE '45000' "
                    f"SET MESSAGE_TEXT = '{table} is append-only'"
                )

    def backwards(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        name = f"{table}_append_only"
        if vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS {name} ON "{table}"')
        else:
            for operation in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}_{operation}")

    return migrations.RunPython(forwards, backwards, elidable=False)
