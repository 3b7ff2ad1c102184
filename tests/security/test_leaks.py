"""Leaks: a demo customer's personal data, used as canaries, through every flow of the demo world
with a real worker, then looked for where it must never be.

Canaries: Anna Schmidt's e-mail address, phone number, surname, street and an order number of
hers in the shop. During the flows (holdings search, sign-in, profile, consent, an error page,
an access request with its download, an erasure with staff steps) they must not appear in the
log output of the web side or the worker, in any command sent to Redis (captured with MONITOR),
in any Redis key or value, or in any e-mail except those sent to Anna herself. After the erasure
they must not appear in any registered store, in any file, or in the portal's tables, except in
the fields kept by rule, listed in ``RETAINED``.
"""

from __future__ import annotations

import email
import threading
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.db import models
from django.test import Client

from accounts.models import User
from dsr.demo import services, services_path, shop
from dsr.models import State
from dsr.services import dsr_request_approve
from tests.conftest import login
from tests.dsr.helpers import file_request
from tests.stores.conftest import demo_world, worker  # noqa: F401 (fixtures)
from tests.stores.test_demo_world import complete_manual_steps
from tests.worker import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ANNA = "anna.schmidt@example.com"
# Fields that keep the person's data after an erasure, by rule (model field: why).
RETAINED = {
    "dsr.DataSubjectRequest.email": "proof that Inper answered the request (redacted after 24 "
    "months, GDPR Art. 5(2))",
    "dsr.DataSubjectRequest.full_name": "the same proof",
    "dsr.DataSubjectRequest.details": "the same proof",
    "shop orders.order_number": "financial records, kept 10 years; the order no longer names "
    "anyone (customer, e-mail and address anonymised)",
}


class Monitor:
    """Every command Redis receives, from ``MONITOR``, while it runs."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.client = redis.Redis.from_url(settings.REDIS_URL)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with self.client.monitor() as monitor:
                self._ready.set()
                for command in monitor.listen():
                    self.lines.append(str(command.get("command", "")))
        except (redis.ConnectionError, ValueError, OSError):
            pass  # closed at the end of the test

    def __enter__(self) -> Monitor:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()


def _canaries(shop_url: sa.URL) -> dict[str, str]:
    anna = shop_rows(shop_url, shop.customers, shop.customers.c.email == ANNA)[0]
    order = shop_rows(shop_url, shop.orders, shop.orders.c.customer_id == anna["id"])[0]
    return {
        "email": ANNA,
        "phone": "+493012345678",
        "surname": "Schmidt",
        "street": "Lindenstraße",
        "order number": str(order["order_number"]),
    }


def shop_rows(url: sa.URL, table: sa.Table, where: Any = None) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            statement = sa.select(table) if where is None else sa.select(table).where(where)
            return [dict(row._mapping) for row in conn.execute(statement)]
    finally:
        engine.dispose()


def found(canaries: dict[str, str], text: str) -> list[str]:
    folded = text.casefold()
    return [name for name, value in canaries.items() if value.casefold() in folded]


def _emails(outbox: list[Any], mail_dir: Path) -> list[tuple[str, str]]:
    """(recipients, full text) of every e-mail sent by the web side and the worker."""
    sent = [(" ".join(message.to), message.message().as_string()) for message in outbox]
    for path in mail_dir.glob("*.log"):
        for chunk in path.read_text(errors="replace").split("-" * 79):
            if chunk.strip():
                message: Message = email.message_from_string(chunk.strip())
                parts = [
                    part.get_payload(decode=True) or b""
                    for part in message.walk()
                    if not part.is_multipart()
                ]
                body = b"\n".join(p if isinstance(p, bytes) else b"" for p in parts)
                sent.append((str(message["To"]), str(message) + body.decode(errors="replace")))
    return sent


def _redis_everything() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL)
    texts = []
    for db_url in {settings.REDIS_URL, settings.CELERY_BROKER_URL}:
        client = redis.Redis.from_url(db_url)
        for key in client.scan_iter(count=500):
            kind = client.type(key).decode()
            value: Any
            if kind == "string":
                value = client.get(key)
            elif kind == "list":
                value = client.lrange(key, 0, -1)
            elif kind == "hash":
                value = client.hgetall(key)
            elif kind == "set":
                value = client.smembers(key)
            elif kind == "zset":
                value = client.zrange(key, 0, -1)
            else:
                value = ""
            texts.append(f"{key!r} {value!r}")
            texts.append(key.decode(errors="replace"))
            if isinstance(value, bytes):
                texts.append(value.decode(errors="replace"))
    return "\n".join(texts)


def _portal_tables(canaries: dict[str, str]) -> list[str]:
    """Every text field of every model of the portal holding a canary, outside ``RETAINED``."""
    hits = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField | models.JSONField):
                continue
            name = f"{model._meta.app_label}.{model.__name__}.{field.name}"
            if name in RETAINED:
                continue
            lookup = f"{field.name}__icontains"
            for canary, value in canaries.items():
                queryset = model._default_manager.all()
                if isinstance(field, models.JSONField):
                    queryset = queryset.extra(  # noqa: S610 (constant SQL, bound value)
                        where=[f'"{model._meta.db_table}"."{field.column}"::text ILIKE %s'],
                        params=[f"%{value}%"],
                    )
                else:
                    queryset = queryset.filter(**{lookup: value})
                if queryset.exists():
                    hits.append(f"{name} holds the {canary}")
    return hits


def _shop_tables(shop_url: sa.URL, canaries: dict[str, str]) -> list[str]:
    hits = []
    for table in shop.metadata.sorted_tables:
        for row in shop_rows(shop_url, table):
            kept = {
                column: value
                for column, value in row.items()
                if f"shop {table.name}.{column}" not in RETAINED
            }
            for canary in found(canaries, repr(kept)):
                hits.append(f"shop {table.name} row {row.get('id')} holds the {canary}")
    return hits


def _services(canaries: dict[str, str]) -> list[str]:
    hits = []
    with services.connect(services_path()) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 (catalogue names)
                hits += [f"service table {table} holds the {c}" for c in found(canaries, repr(row))]
    return hits


def _files(root: Path, canaries: dict[str, str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and path.suffix not in (".sqlite3", ".log"):
            hits += [
                f"file {path.name} holds the {c}"
                for c in found(canaries, path.read_bytes().decode(errors="replace"))
            ]
            hits += [f"file name {path} holds the {c}" for c in found(canaries, str(path))]
    return hits


def test_the_canaries_stay_where_they_belong(demo_world, worker, capfd, settings):  # noqa: F811
    shop_url = demo_world
    canaries = _canaries(shop_url)
    anna = User.objects.get(email=ANNA)
    officer = User.objects.get(email="compliance@inper.example")
    mail.outbox.clear()

    with Monitor() as monitor:
        # The web side: signed in, profile, consent, "my data", an error page with her address.
        client = login(Client(raise_request_exception=False), anna, reauthenticated=True)
        assert client.get("/account/").status_code == 200
        client.post(
            "/account/",
            {
                "first_name": "Anna",
                "last_name": "Schmidt",
                "phone": canaries["phone"],
                "country": "DE",
                "preferred_language": "en",
            },
        )
        client.post("/privacy/choices/stop-all-marketing/")
        client.get("/account/data/stores/")
        # An error page never echoes what was asked for (her own pages may show her name).
        for path in (
            f"/nothing/{ANNA}/?phone={canaries['phone']}",
            f"/privacy/cookie-policy/v99999/?q={ANNA}",
        ):
            error = Client(raise_request_exception=False).get(path)
            assert error.status_code == 404 and not found(canaries, error.content.decode())
        # An access request through the worker, downloaded; then the erasure.
        access = file_request(type="access", user=anna)
        wait_until(lambda: _state(access) == State.WAITING, timeout=60, message="access tasks")
        complete_manual_steps(access, officer)
        wait_until(lambda: _state(access) == State.COMPLETED, timeout=60, message="the package")
        download = client.get(f"/requests/{access.reference}/download/")
        assert download.status_code == 200
        erasure = dsr_request_approve(
            request=file_request(type="erasure", user=anna), actor=officer
        )
        wait_until(
            lambda: (
                _state(erasure) == State.WAITING
                and not erasure.tasks.filter(waiting_for="callback", state="waiting").exists()
            ),
            timeout=60,
            message="the erasure's automatic stores",
        )
        complete_manual_steps(erasure, officer)
        wait_until(lambda: _state(erasure) == State.COMPLETED, timeout=60, message="the erasure")

    problems = []
    output = capfd.readouterr()
    logs = output.out + output.err + worker.log_path.read_text(errors="replace")
    problems += [f"the logs hold the {c}" for c in found(canaries, logs)]
    problems += [f"a Redis command held the {c}" for c in found(canaries, "\n".join(monitor.lines))]
    assert monitor.lines, "MONITOR saw nothing"
    problems += [f"Redis holds the {c}" for c in found(canaries, _redis_everything())]
    for to, text in _emails(mail.outbox, worker.mail_dir):
        if ANNA not in to:
            problems += [f"an e-mail to {to} holds the {c}" for c in found(canaries, text)]
    # After the erasure, in every store.
    problems += _shop_tables(shop_url, canaries)
    problems += _services(canaries)
    problems += _portal_tables(canaries)
    problems += _files(Path(settings.VAR_DIR), canaries)
    assert not problems, "\n".join(problems)


def _state(request: Any) -> str:
    request.refresh_from_db()
    return str(request.state)
