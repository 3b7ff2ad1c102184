"""Leaks: a person with unique canary values (first and last name, e-mail address, phone number,
an address line, an order number in the demo shop) goes through every flow of the demo world,
with a real Celery worker and the registered stores; then the canaries are looked for where
they must never be.

The flows, through the portal's pages as the person and a compliance officer use them: signing
up (with the newsletter box ticked) and confirming the address, signing in, confirming the
newsletter, editing the profile and adding an address, consent changes, the cookie banner, a
one-click unsubscribe from a marketing e-mail, "my data" (searched by the worker), an access
request end to end (the officer does the payment provider's step in the admin; the person
downloads the package), the dashboard's pages and exports, error pages, and an erasure end to
end (approved on the dashboard, the newsletter answering by signed callback, the staff steps
done on the dashboard).

Where the canaries must not be, during and after the flows: the log output of the web side
(this process, the live server and the demo services) and of the worker; every command the
broker and cache databases received (Redis ``MONITOR``, with the Celery messages' bodies
decoded); every key and value in those databases; the error pages; every e-mail not addressed
to the person. After the erasure, nowhere either: every table of the shop, of the demo
services and of the portal (the sessions decoded), every file under the portal's folders
(names too), every export package (decrypted) and the dashboard's exports, except the fields
kept by rule, listed by name in ``RETAINED``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email
import io
import json
import logging
import re
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import sqlalchemy as sa
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client, RequestFactory

from accounts.models import Session, User
from consent import services as consent_services
from consent.marketing import marketing_email_send
from dsr import packages
from dsr.demo import demo_dir, services, services_path, shop, uploads
from dsr.models import DataSubjectRequest, ExportPackage, State, StoreTask
from privacy_portal.pseudonymise import email_hash, normalise_email
from privacy_portal.views import server_error
from tests.conftest import login
from tests.stores.conftest import demo_world, worker  # noqa: F401 (fixtures)
from tests.worker import until_done_by_staff, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FIRST, LAST = "Zyxwerthina", "Qopplestrand"
EMAIL = "zyx.qopple.7311@example.org"
PHONE = "+493073114402"
ADDRESS = "Quirlweg 7311"
ORDER = "ZQ-7311-4402"
PASSWORD = "a-Long-and-new-passphrase-2026"
#: Each canary with the forms it can take in a text (an address URL-encoded, a number
#: formatted, a street without its number).
CANARIES: dict[str, tuple[str, ...]] = {
    "first name": (FIRST,),
    "last name": (LAST,),
    "e-mail address": (EMAIL, "zyx.qopple.7311"),
    "phone number": (PHONE, "3073114402", "30 7311 4402"),
    "address line": (ADDRESS, "Quirlweg"),
    "order number": (ORDER,),
}
#: Fields that keep a canary after the erasure, by rule (where: why).
RETAINED = {
    "dsr.DataSubjectRequest.email": "proof that Inper answered the request (redacted after 24 "
    "months, GDPR Art. 5(2))",
    "dsr.DataSubjectRequest.full_name": "the same proof",
    "dsr.DataSubjectRequest.details": "the same proof",
    "shop orders.order_number": "financial records, kept 10 years; the order no longer names "
    "anyone (customer, e-mail, name, address and phone anonymised)",
}
BASE64 = re.compile(rb"[A-Za-z0-9+/]{24,}={0,2}")


def found(text: str | bytes) -> list[str]:
    """Return the canaries in ``text`` (and in the base64 it holds, decoded: Celery's bodies)."""
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    chunks = [raw]
    for match in BASE64.finditer(raw):
        try:
            chunks.append(base64.b64decode(match.group(0) + b"=" * (-len(match.group(0)) % 4)))
        except (binascii.Error, ValueError):
            continue
    folded = "\n".join(chunk.decode("utf-8", "replace") for chunk in chunks).casefold()
    return [name for name, forms in CANARIES.items() if any(f.casefold() in folded for f in forms)]


class Tee(io.StringIO):
    """A stream that keeps what is written to it and passes it on."""

    def __init__(self, onward: Any) -> None:
        super().__init__()
        self.onward = onward

    def write(self, text: str) -> int:
        self.onward.write(text)
        return super().write(text)


@contextlib.contextmanager
def web_logs() -> Iterator[io.StringIO]:
    """Keep what the portal's own log handlers write in this process (the test, the live
    server, the demo services), formatted and filtered as in production."""
    # The configured console handler (pytest's own are subclasses).
    handlers = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert handlers, "the portal's console handler is not on the root logger"
    kept = io.StringIO()
    tees = [Tee(handler.stream) for handler in handlers]
    for handler, tee in zip(handlers, tees, strict=True):
        handler.setStream(tee)
    try:
        yield kept
    finally:
        for handler, tee in zip(handlers, tees, strict=True):
            handler.setStream(tee.onward)
            kept.write(tee.getvalue())


class Monitor:
    """Every command Redis receives for the broker and cache databases, from ``MONITOR``."""

    def __init__(self) -> None:
        self.databases = {
            int(urlsplit(url).path.strip("/") or 0)
            for url in (settings.REDIS_URL, settings.CELERY_BROKER_URL)
        }
        self.lines: list[str] = []
        self.client = redis.Redis.from_url(settings.REDIS_URL)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with self.client.monitor() as monitor:
                self._ready.set()
                for command in monitor.listen():
                    if command.get("db") in self.databases:
                        self.lines.append(str(command.get("command", "")))
        except (redis.ConnectionError, ValueError, OSError):
            pass  # closed at the end of the test

    def __enter__(self) -> Monitor:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()


def redis_contents() -> bytes:
    """Every key and value of the cache and broker databases."""
    parts: list[bytes] = []
    for url in {settings.REDIS_URL, settings.CELERY_BROKER_URL}:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(count=500):
            kind = client.type(key).decode()
            values: list[Any] = []
            if kind == "string":
                values = [client.get(key)]
            elif kind == "list":
                values = client.lrange(key, 0, -1)
            elif kind == "hash":
                values = [item for pair in client.hgetall(key).items() for item in pair]
            elif kind in ("set", "zset"):
                values = list(client.smembers(key) if kind == "set" else client.zrange(key, 0, -1))
            parts += [key, *(value for value in values if isinstance(value, bytes))]
        client.close()
    return b"\n".join(parts)


def emails(outbox: list[Any], mail_dir: Path) -> list[tuple[str, str]]:
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


def link_in(outbox: list[Any], pattern: str) -> str:
    """The path of the newest link matching ``pattern`` in an e-mail to the person."""
    for message in reversed(outbox):
        if EMAIL in message.to:
            match = re.search(rf"https?://[^/\s]+({pattern}[^\s>]*)", message.body)
            if match:
                return match.group(1)
    raise AssertionError(f"no e-mail to the person with a link to {pattern}")


# --- after the erasure: every store -------------------------------------------------------------


def _shop_rows(url: sa.URL) -> list[tuple[str, dict[str, Any]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                (table.name, dict(row._mapping))
                for table in shop.metadata.sorted_tables
                for row in conn.execute(sa.select(table))
            ]
    finally:
        engine.dispose()


def shop_hits(url: sa.URL) -> list[str]:
    hits = []
    for table, row in _shop_rows(url):
        kept = {k: v for k, v in row.items() if f"shop {table}.{k}" not in RETAINED}
        hits += [f"shop {table} row {row.get('id')}: {c}" for c in found(repr(kept))]
    return hits


def services_hits() -> list[str]:
    hits = []
    with services.connect(services_path()) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 (catalogue names)
                hits += [f"service table {table}: {c}" for c in found(repr(tuple(row)))]
    return hits


def portal_hits() -> list[str]:
    """Every text and JSON field of every model of the portal, outside ``RETAINED``; and the
    sessions, decoded."""
    hits = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed or model is Session:
            continue
        fields = [
            field
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
            and f"{model._meta.app_label}.{model.__name__}.{field.name}" not in RETAINED
        ]
        if not fields:
            continue
        for row in model._default_manager.values_list(*(field.attname for field in fields)):
            for field, value in zip(fields, row, strict=True):
                where = f"{model._meta.app_label}.{model.__name__}.{field.name}"
                hits += [f"{where}: {c}" for c in found(json.dumps(value, default=str))]
    for session in Session.objects.all():
        hits += [f"a session: {c}" for c in found(json.dumps(session.get_decoded(), default=str))]
    return hits


def file_hits(root: Path) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        hits += [f"the file name {path}: {c}" for c in found(str(path.relative_to(root)))]
        if path.is_file() and path.suffix not in (".sqlite3", ".log"):
            hits += [f"the file {path.name}: {c}" for c in found(path.read_bytes())]
    return hits


def package_hits() -> list[str]:
    """Every export package still readable, decrypted."""
    hits = []
    for package in ExportPackage.objects.filter(purged_at__isnull=True).exclude(storage_name=""):
        archive = zipfile.ZipFile(io.BytesIO(b"".join(packages.package_chunks(package))))
        for name in archive.namelist():
            hits += [f"package {package.pk} {name}: {c}" for c in found(archive.read(name))]
    return hits


def _state(request: DataSubjectRequest) -> str:
    request.refresh_from_db()
    return str(request.state)


# --- the test -----------------------------------------------------------------------------------


def _seed_the_canary_person(shop_url: sa.URL) -> None:
    """Put the person in the shop (with the canary order number), the newsletter and the
    uploads, as the demo customers are."""
    person = shop.ShopPerson(
        email=EMAIL,
        first_name=FIRST,
        last_name=LAST,
        phone=PHONE,
        address=f"{ADDRESS}, 10115 Berlin",
        newsletter=True,
    )
    customer_id = shop.fill(shop_url, [person], extra_orders={EMAIL: 2})[EMAIL]
    engine = sa.create_engine(shop_url)
    with engine.begin() as conn:
        first_order = conn.execute(
            sa.select(sa.func.min(shop.orders.c.id)).where(shop.orders.c.customer_id == customer_id)
        ).scalar_one()
        conn.execute(
            sa.update(shop.orders).where(shop.orders.c.id == first_order).values(order_number=ORDER)
        )
    engine.dispose()
    services.fill(services_path(), [services.Subscriber(EMAIL, FIRST)])
    photo = uploads.Photo(
        f"{LAST}-holiday.jpg",
        "Canon",
        "EOS R6",
        datetime(2025, 6, 1, tzinfo=UTC),
        52.5,
        13.4,
        (40, 110, 170),
    )
    uploads.fill(demo_dir() / "uploads", {EMAIL: [photo]})


def _sign_up_and_in(person: Client) -> User:
    response = person.post(
        "/accounts/signup/",
        {
            "email": EMAIL,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "confirm_adult": "on",
            "marketing_email": "on",
        },
    )
    assert response.status_code == 302, response.content[:500]
    assert person.post(link_in(mail.outbox, "/accounts/confirm-email/")).status_code == 302
    response = person.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    assert response.status_code == 302 and "_auth_user_id" in person.session
    return User.objects.get(email=EMAIL)


def _account_and_consent(person: Client, user: User) -> None:
    # The newsletter she ticked at sign-up, confirmed from the e-mail (double opt-in).
    assert person.post(link_in(mail.outbox, "/privacy/confirm/")).status_code == 200
    response = person.post(
        "/account/",
        {
            "first_name": FIRST,
            "last_name": LAST,
            "phone": "+49 30 7311 4402",
            "country": "DE",
            "preferred_language": "en",
        },
    )
    assert response.status_code == 302
    response = person.post(
        "/account/addresses/new/",
        {
            "label": "Home",
            "recipient": f"{FIRST} {LAST}",
            "line1": ADDRESS,
            "postal_code": "10115",
            "city": "Berlin",
            "country": "DE",
            "is_default_shipping": "on",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.phone == PHONE and user.addresses.get().line1 == ADDRESS
    for granted in ("on", "off"):
        assert (
            person.post("/privacy/choices/marketing_post/", {"granted": granted}).status_code == 302
        )
    # The cookie banner, on the portal (saved on the account too).
    assert person.get("/privacy/banner/config.json").status_code == 200
    response = person.post(
        "/privacy/banner/choice",
        json.dumps({"choices": {"analytics": True, "marketing": False}}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert person.get("/privacy/").status_code == 200
    assert person.get("/privacy/history/").status_code == 200
    assert person.get("/privacy/history/receipt.json").status_code == 200


def _unsubscribe(user: User) -> None:
    """A newsletter, and its one-click unsubscribe as a mailbox provider sends it."""
    subject = consent_services.subject_for_user(user)
    assert marketing_email_send(subject=subject, to=EMAIL, template="consent/welcome", context={})
    newsletter = next(m for m in reversed(mail.outbox) if "List-Unsubscribe" in m.extra_headers)
    url = newsletter.extra_headers["List-Unsubscribe"].split(",")[0].strip("<> ")
    response = Client().post(
        urlsplit(url).path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200


def _my_data(person: Client, user: User) -> None:
    from dsr.holdings import holdings_of

    assert person.get("/account/data/").status_code == 200
    wait_until(lambda: not holdings_of(user).checking, message="the store search")
    assert person.get("/account/data/stores/").status_code == 200


def _file(person: Client, kind: str) -> DataSubjectRequest:
    """File a request as the person does: confirming her password first when asked."""
    response = person.post("/requests/new/", {"type": kind, "understood": "on"})
    if response["Location"].startswith("/accounts/reauthenticate/"):
        response = person.post(response["Location"], {"password": PASSWORD})
    reference = re.search(r"/requests/(DSR-[\d-]+)/", response["Location"])
    assert reference, response["Location"]
    return DataSubjectRequest.objects.get(reference=reference.group(1))


def _complete_steps_in_admin(officer: Client, request: DataSubjectRequest) -> None:
    """The officer does the payment provider's export in the admin, attaching its CSV."""
    for task in StoreTask.objects.filter(request=request, waiting_for="manual", state="waiting"):
        export = f"email,name,phone\n{EMAIL},{FIRST} {LAST},{PHONE}\n".encode()
        response = officer.post(
            f"/admin/dsr/manualstep/{task.pk}/change/",
            {
                "note": "Exported the customer profile from the PSP dashboard.",
                "data_files": [SimpleUploadedFile("psp-customer.csv", export, "text/csv")],
            },
        )
        assert response.status_code == 302, response.content[:300]


def _complete_steps_on_the_dashboard(officer: Client, request: DataSubjectRequest) -> None:
    """The officer marks the erasure's staff steps done, with evidence named after her."""
    for task in StoreTask.objects.filter(request=request, waiting_for="manual", state="waiting"):
        evidence = SimpleUploadedFile(
            f"deletion-{LAST}.pdf", b"%PDF-1.4 deletion confirmed, ticket 4711", "application/pdf"
        )
        response = officer.post(
            f"/dashboard/tasks/{task.pk}/done/",
            {
                f"done-{task.pk}-note": "Done as instructed, ticket 4711.",
                f"done-{task.pk}-evidence": evidence,
            },
        )
        assert response.status_code == 302, response.content[:300]


def _dashboard(officer: Client, request: DataSubjectRequest) -> list[bytes]:
    """The officer's pages about the request, and the dashboard's exports (returned)."""
    response = officer.post("/dashboard/search/", {"term": EMAIL})
    assert (
        response.status_code == 302 and email_hash(normalise_email(EMAIL)) in response["Location"]
    )
    for path in (
        response["Location"],
        "/dashboard/",
        f"/dashboard/requests/{request.reference}/",
        f"/dashboard/requests/{request.reference}/receipt/",
        f"/dashboard/requests/{request.reference}/progress/",
        "/dashboard/audit/",
        "/dashboard/metrics/",
        "/dashboard/processing/",
        "/dashboard/retention/",
    ):
        assert officer.get(path).status_code == 200, path
    return [
        b"".join(officer.get(path).streaming_content)
        for path in (
            "/dashboard/audit/export.csv",
            "/dashboard/processing.csv",
            "/dashboard/metrics/yearly.csv",
            "/admin/consent/consentevent/export.csv",
        )
    ]


def _error_pages(person: Client) -> list[tuple[str, bytes]]:
    """Error pages asked for with the canaries in the path and the query."""
    query = f"email={EMAIL}&phone={PHONE}&name={FIRST}+{LAST}&street={ADDRESS}&order={ORDER}"
    pages = []
    for client in (Client(raise_request_exception=False), person):
        for path in (
            f"/nothing/{EMAIL}/{LAST}/?{query}",
            f"/privacy/cookie-policy/v99999/?{query}",
            f"/requests/{ORDER}/?{query}",
            f"/dashboard/?{query}&q=%00",
        ):
            response = client.get(path)
            assert response.status_code in (302, 400, 404), (path, response.status_code)
            pages.append((path, response.content))
    refused = Client(enforce_csrf_checks=True, raise_request_exception=False)
    response = refused.post(f"/account/?{query}", {"first_name": FIRST})
    assert response.status_code == 403
    pages.append(("CSRF failure", response.content))
    request = RequestFactory().get(f"/account/{EMAIL}/?{query}")
    pages.append(("server error", server_error(request).content))
    return pages


def test_the_canaries_stay_where_they_belong(demo_world, worker, settings):  # noqa: F811
    shop_url = demo_world
    _seed_the_canary_person(shop_url)
    mail.outbox.clear()
    officer = login(
        Client(raise_request_exception=False),
        User.objects.get(email="compliance@inper.example"),
        mfa=True,
    )
    exports: list[bytes] = []
    with Monitor() as monitor, web_logs() as logs:
        person = Client(raise_request_exception=False)
        user = _sign_up_and_in(person)
        _account_and_consent(person, user)
        _unsubscribe(user)
        _my_data(person, user)

        # Access, end to end: filed by her, the worker and the officer, downloaded by her.
        access = _file(person, "access")
        # A new account's first copy waits for an officer (its password is new).
        if _state(access) == State.IN_REVIEW:
            approved = officer.post(f"/dashboard/requests/{access.reference}/approve/")
            assert approved.status_code == 302
        wait_until(lambda: _state(access) == State.WAITING, timeout=60, message="access tasks")
        _complete_steps_in_admin(officer, access)
        wait_until(lambda: _state(access) == State.COMPLETED, timeout=60, message="the package")
        download = person.get(f"/requests/{access.reference}/download/")
        assert download.status_code == 200
        package = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
        copy = b"\n".join(package.read(name) for name in package.namelist())
        assert set(found(copy)) == set(CANARIES), "the copy should hold all of her data"
        exports += _dashboard(officer, access)
        errors = _error_pages(person)

        # Erasure, end to end: filed by her, approved on the dashboard, run by the worker.
        erasure = _file(person, "erasure")
        assert _state(erasure) == State.IN_REVIEW
        assert officer.get(f"/dashboard/requests/{erasure.reference}/").status_code == 200
        assert officer.post(f"/dashboard/requests/{erasure.reference}/approve/").status_code == 302
        # Staff's steps, as they come: the systems', then the recipients' (once the rest is
        # done), until it is completed.
        until_done_by_staff(erasure, lambda: _complete_steps_on_the_dashboard(officer, erasure))
        assert person.get("/account/").status_code == 302  # signed out: the account is gone
        assert person.get(f"/requests/{access.reference}/download/").status_code in (302, 404)
        exports += _dashboard(officer, erasure)

    problems: list[str] = []
    assert logs.getvalue(), "the web side logged nothing"
    problems += [f"the web side's log: {c}" for c in found(logs.getvalue())]
    problems += [f"the worker's log: {c}" for c in found(worker.log_path.read_bytes())]
    assert monitor.lines, "MONITOR saw nothing"
    problems += [f"a Redis command: {c}" for c in found("\n".join(monitor.lines))]
    problems += [f"Redis: {c}" for c in found(redis_contents())]
    for to, text in emails(mail.outbox, worker.mail_dir):
        if EMAIL not in to:
            problems += [f"an e-mail to {to}: {c}" for c in found(text)]
    for where, page in errors:
        problems += [f"the error page {where}: {c}" for c in found(page)]
    for export in exports:
        problems += [f"a dashboard export: {c}" for c in found(export)]
    # After the erasure, in every store and every copy.
    problems += shop_hits(shop_url)
    problems += services_hits()
    problems += portal_hits()
    problems += file_hits(Path(settings.VAR_DIR))
    problems += package_hits()
    assert not problems, "\n".join(sorted(set(problems)))
