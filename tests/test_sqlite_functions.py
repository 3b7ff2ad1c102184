"""SQLite, the embedded default, compares names as PostgreSQL does (``privacy_portal.sqlite``)."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest

from privacy_portal.sqlite import _functions_added, unaccent


@pytest.fixture
def sqlite_db():
    raw = sqlite3.connect(":memory:")
    _functions_added(sender=None, connection=SimpleNamespace(vendor="sqlite", connection=raw))
    raw.execute("CREATE TABLE person (name TEXT)")
    raw.executemany(
        "INSERT INTO person VALUES (?)",
        [("Zoë Ünïcødé",), ("Ørsted Łukasz",), ("Σοφία",), ("50%_off",), ("Zed",), (None,)],
    )
    yield raw
    raw.close()


def _like(db, pattern, *, accents=False, escape=None):
    column = "unaccent(name)" if accents else "name"
    value = "unaccent(?)" if accents else "?"
    tail = f" ESCAPE '{escape}'" if escape else ""
    sql = f"SELECT name FROM person WHERE {column} LIKE {value}{tail} ORDER BY name"  # noqa: S608
    return [row[0] for row in db.execute(sql, [pattern])]


def test_like_ignores_case_in_every_alphabet(sqlite_db):
    assert _like(sqlite_db, "%ünïcødé%") == ["Zoë Ünïcødé"]
    assert _like(sqlite_db, "%ÜNÏCØDÉ%") == ["Zoë Ünïcødé"]
    assert _like(sqlite_db, "σοφία") == ["Σοφία"]
    assert _like(sqlite_db, "z_d") == ["Zed"]
    assert _like(sqlite_db, "zoe%") == []  # accents count, unless taken away


def test_unaccent_takes_away_what_postgresql_takes_away(sqlite_db):
    assert unaccent("Zoë Ünïcødé") == "Zoe Unicode"
    assert unaccent("Ørsted Łukasz Straße") == "Orsted Lukasz Strasse"
    assert unaccent(None) is None
    assert _like(sqlite_db, "%unicode%", accents=True) == ["Zoë Ünïcødé"]
    assert _like(sqlite_db, "%LUKASZ%", accents=True) == ["Ørsted Łukasz"]


def test_like_keeps_its_wildcards_and_escape(sqlite_db):
    assert _like(sqlite_db, r"50\%\_off", escape="\\") == ["50%_off"]
    assert _like(sqlite_db, r"50\%x", escape="\\") == []
    assert _like(sqlite_db, "%") == sorted(
        ["Zoë Ünïcødé", "Ørsted Łukasz", "Σοφία", "50%_off", "Zed"]
    )


def test_other_databases_get_nothing(monkeypatch):
    asked = []
    fake = SimpleNamespace(create_function=lambda *args, **kwargs: asked.append(args))
    _functions_added(sender=None, connection=SimpleNamespace(vendor="postgresql", connection=fake))
    assert asked == []
