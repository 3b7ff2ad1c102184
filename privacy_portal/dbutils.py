"""Database-level guarantees used by migrations."""

from __future__ import annotations

from typing import Any

from django.db import migrations

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION portal_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


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
