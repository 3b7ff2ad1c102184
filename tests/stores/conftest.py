"""Fixtures for the data-store tests: external shop databases on SQLite, PostgreSQL and MariaDB,
and a sink that keeps what a connector exports."""

from __future__ import annotations

import importlib
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from unittest import mock

import pytest
import sqlalchemy as sa
from django.apps import apps as django_apps
from django.conf import settings

from accounts.demo import seed_demo_people
from dsr.demo import seed_demo_world, services_path, services_secrets, shop
from tests.conftest import require
from tests.stores.servers import demo_services
from tests.worker import WorkerProcess

MARIADB_URL = os.environ.get("TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")

ANNA = shop.ShopPerson(
    email="anna.schmidt@example.com",
    first_name="Anna",
    last_name="Schmidt",
    phone="+493012345678",
    address="Lindenstraße 5, 10969 Berlin",
    newsletter=True,
)
BEN = shop.ShopPerson(
    email="ben.carter@example.com",
    first_name="Ben",
    last_name="Carter",
    phone="+442079460958",
    address="14 Orchard Lane, Oxford",
)


def _mariadb_reachable(url: sa.URL) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def make_database(kind: str, tmp_path: Any) -> sa.URL:
    """Return the URL of a fresh, empty database of ``kind`` (created on its server)."""
    name = f"stores_shop_test_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        return sa.URL.create("sqlite", database=str(tmp_path / f"{name}.sqlite3"))
    if kind == "postgresql":
        server = shop.portal_server()
        require(server is not None, "PostgreSQL is not configured (set DATABASE_URL)")
        assert server is not None
        url = server.set(database=name)
    else:
        server = sa.make_url(MARIADB_URL)
        require(_mariadb_reachable(server), f"MariaDB is not reachable at {server.host}")
        url = server.set(database=name)
    shop.ensure_database(url)
    return url


def _shop_database(kind: str, tmp_path: Any) -> Iterator[sa.URL]:
    url = make_database(kind, tmp_path)
    yield url
    from dsr.connectors.sql import _engines

    for engine in list(_engines.values()):
        if engine.url.database == url.database:
            engine.dispose()
    shop.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def shop_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[sa.URL]:
    """An empty external shop database on each kind of server."""
    yield from _shop_database(request.param, tmp_path)


@pytest.fixture(params=["postgresql", "mariadb"])
def server_shop_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[sa.URL]:
    """An empty external shop database on each database server (with credentials)."""
    yield from _shop_database(request.param, tmp_path)


@pytest.fixture
def filled_shop(shop_url: sa.URL) -> sa.URL:
    """The shop with Anna (5 orders), Ben, and 20 other customers."""
    shop.fill(shop_url, [ANNA, BEN], others_count=20, extra_orders={ANNA.email: 5})
    return shop_url


def url_text(url: sa.URL) -> str:
    return url.render_as_string(hide_password=False)


def rows(url: sa.URL, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
    """Read rows of an external database directly (to check what a connector did)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.select(table).where(*where))]
    finally:
        engine.dispose()


@dataclass
class ExportedTable:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    descriptions: Mapping[str, str]


@dataclass
class MemorySink:
    """An ExportSink that keeps everything in memory (for connector tests)."""

    tables: dict[str, ExportedTable] = field(default_factory=dict)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    def table(
        self,
        entity: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        descriptions: Mapping[str, str] | None = None,
    ) -> int:
        kept = [tuple(row) for row in rows]
        self.tables[entity] = ExportedTable(list(columns), kept, dict(descriptions or {}))
        return len(kept)

    def file(self, name: str, stream: IO[bytes], *, description: str = "") -> None:
        self.files[name] = (stream.read(), description)

    def records(self, entity: str) -> list[dict[str, Any]]:
        table = self.tables[entity]
        return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


@pytest.fixture
def demo_world(transactional_db, tmp_path, settings, postgres, redis_cache):
    """The demo world's stores on a PostgreSQL shop of their own, with the demo services
    served on loopback."""
    settings.VAR_DIR = tmp_path / "var"
    settings.DSR_STORAGE_DIR = settings.VAR_DIR / "dsr"
    settings.MEDIA_ROOT = settings.VAR_DIR / "media"
    url = make_database("postgresql", tmp_path)
    with (
        demo_services(services_path(), services_secrets(), erase_delay=0.5) as base,
        mock.patch("dsr.demo.shop.database_url", return_value=url),
    ):
        settings.DSR_DEMO_SERVICES_URL = base
        # A flush between transactional tests removes the portal's own store, which a data
        # migration creates: put it back.
        portal_store = importlib.import_module("dsr.migrations.0002_portal_store_and_roles")
        portal_store.register_portal_store(django_apps, None)
        seed_demo_people()
        seed_demo_world()
        yield url
    from dsr.connectors.sql import _engines

    for engine in list(_engines.values()):
        engine.dispose()
    shop.drop_database(url)


@pytest.fixture
def worker(demo_world, tmp_path, live_server):
    """A real worker whose services call back to the live test server."""
    process = WorkerProcess(tmp_path, extra_env={"DSR_CALLBACK_BASE_URL": live_server.url}).start()
    yield process
    process.stop()
    from privacy_portal.celery import app

    app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    app.conf.task_routes = settings.CELERY_TASK_ROUTES
    from tests.worker import routes_reload

    routes_reload(app)
