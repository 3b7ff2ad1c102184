"""Small HTTP services standing in for Inper's newsletter platform and its group CRM, both
speaking the portal's store protocol (docs/http-store-protocol.md) against their own SQLite
data. ``make run`` starts them beside the portal (``manage.py demo_services``).

- ``POST /newsletter/dsr``: subscribers and their campaign events. Searching, exporting and
  restricting (unsubscribing) are answered at once; an erasure is accepted (202) and its
  result posted to the portal's callback URL a moment later, as real platforms do.
- ``POST /newsletter/consent``: the platform's subscription to the portal's consent webhook
  (docs/consent.md, "Webhook pushes"): a withdrawal of e-mail marketing, however the person
  made it, marks the account's subscriber unsubscribed; a new grant subscribes them again.
- ``POST /group-crm/dsr``: a recipient of customer data (Inper's affiliates) in the United
  States, told about erasures and corrections (GDPR Art. 19), which it records; it restricts a
  customer's record for a restriction, and for an objection to transfers to other countries.

Standard library only (wsgiref, sqlite3, urllib), so the stand-in stays obviously small.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.utils.translation import gettext_noop

from consent.signatures import signature_valid as consent_signature_valid
from dsr.connectors.http import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_valid,
    signed_headers,
    timestamp_fresh,
)

logger = logging.getLogger(__name__)

NEWSLETTER = "newsletter"
GROUP_CRM = "group-crm"
#: The secret of the newsletter platform's consent webhook, and its path.
NEWSLETTER_CONSENT = "newsletter-consent"
CONSENT_PATH = "/newsletter/consent"
#: The purpose whose changes the newsletter platform follows.
NEWSLETTER_PURPOSE = "marketing_email"
#: How old a signed consent push may be (seconds), as the portal's own webhooks allow.
CONSENT_TOLERANCE_SECONDS = 300

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscribers (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  first_name TEXT,
  lists TEXT NOT NULL,
  source TEXT NOT NULL,
  consent_text_version TEXT NOT NULL,
  signup_ip TEXT,
  subscribed_at TEXT NOT NULL,
  restricted INTEGER NOT NULL DEFAULT 0,
  unsubscribed_at TEXT,
  customer_id INTEGER,
  consent_event_id INTEGER
);
CREATE TABLE IF NOT EXISTS campaign_events (
  id INTEGER PRIMARY KEY,
  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
  campaign TEXT NOT NULL,
  event TEXT NOT NULL,
  user_agent TEXT,
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS campaign_events_subscriber ON campaign_events (subscriber_id);
CREATE TABLE IF NOT EXISTS suppression_list (
  email_sha256 TEXT PRIMARY KEY,
  added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  request_reference TEXT,
  request_type TEXT,
  email_sha256 TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS crm_restrictions (
  email_sha256 TEXT PRIMARY KEY,
  restricted_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outages (
  endpoint TEXT PRIMARY KEY,
  since TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
  idempotency_key TEXT PRIMARY KEY,
  action TEXT NOT NULL,
  status TEXT NOT NULL,
  result TEXT,
  callback_url TEXT,
  email TEXT,
  created_at TEXT NOT NULL
);
"""


def _texts(en: str, de: str) -> dict[str, str]:
    return {"en": en, "de": de}


#: What the newsletter platform's exported columns mean, for the person reading their copy:
#: the portal's configuration of the store gives them (in English and German), since the
#: platform's own descriptions are few and English only.
DESCRIPTIONS: dict[str, dict[str, dict[str, str]]] = {
    "subscriber": {
        "email": _texts(
            "The address the newsletter is sent to", "Die Adresse, an die der Newsletter geht"
        ),
        "first_name": _texts(
            "Your first name, used to greet you in the newsletter",
            "Ihr Vorname, mit dem der Newsletter Sie begrüßt",
        ),
        "lists": _texts("The newsletters you receive", "Die Newsletter, die Sie erhalten"),
        "source": _texts(
            "Where you subscribed (for example at the shop's checkout)",
            "Wo Sie sich angemeldet haben (zum Beispiel an der Kasse des Shops)",
        ),
        "consent_text_version": _texts(
            "Version of the consent text you agreed to",
            "Die Fassung des Einwilligungstexts, dem Sie zugestimmt haben",
        ),
        "signup_ip": _texts(
            "The internet address your device had when you subscribed",
            "Die Internetadresse, die Ihr Gerät bei der Anmeldung hatte",
        ),
        "subscribed_at": _texts("When you subscribed", "Wann Sie sich angemeldet haben"),
        "restricted": _texts(
            "Whether we stopped sending to you at your request",
            "Ob wir auf Ihren Wunsch aufgehört haben, Ihnen zu schreiben",
        ),
        "unsubscribed_at": _texts(
            "When you unsubscribed, if you did", "Wann Sie sich abgemeldet haben, falls ja"
        ),
        "customer_id": _texts(
            "Your customer number at Inper, if you have an account",
            "Ihre Kundennummer bei Inper, wenn Sie ein Konto haben",
        ),
        "consent_event_id": _texts(
            "The last change of your newsletter choice that Inper's privacy portal told us of",
            "Die letzte Änderung Ihrer Newsletter-Wahl, die uns das Datenschutzportal von Inper "
            "mitgeteilt hat",
        ),
    },
    "campaign_events": {
        "campaign": _texts("The newsletter issue (mailing)", "Die Newsletter-Ausgabe (Aussendung)"),
        "event": _texts(
            "What happened: sent to you, or opened by you",
            "Was geschah: an Sie gesendet oder von Ihnen geöffnet",
        ),
        "user_agent": _texts(
            "The e-mail program or browser that opened it, as it named itself",
            "Das E-Mail-Programm oder der Browser, mit dem sie geöffnet wurde, wie es sich "
            "selbst bezeichnet hat",
        ),
        "at": _texts("When it happened", "Wann es geschah"),
    },
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _create(conn: sqlite3.Connection) -> None:
    """Create the tables, and the columns a database of an earlier demo lacks."""
    conn.executescript(_SCHEMA)
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(subscribers)")}
    for column in ("customer_id", "consent_event_id"):
        if column not in columns:
            conn.execute(f"ALTER TABLE subscribers ADD COLUMN {column} INTEGER")


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """Yield a connection to the services' database in one transaction."""
    conn = sqlite3.connect(path, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        with conn:
            yield conn
    finally:
        conn.close()


#: The services ``manage.py demo_outage`` can take down.
OUTAGE_ENDPOINTS = (NEWSLETTER, GROUP_CRM)


def outage_set(path: Path, endpoint: str, *, on: bool) -> None:
    """Make ``endpoint`` refuse every request (``on``), or answer again."""
    with connect(path) as conn:
        _create(conn)
        if on:
            conn.execute(
                "INSERT OR IGNORE INTO outages (endpoint, since) VALUES (?, ?)",
                (endpoint, datetime.now(UTC).isoformat()),
            )
        else:
            conn.execute("DELETE FROM outages WHERE endpoint = ?", (endpoint,))


def outage_on(path: Path, endpoint: str) -> bool:
    with connect(path) as conn:
        found = conn.execute("SELECT 1 FROM outages WHERE endpoint = ?", (endpoint,)).fetchone()
    return found is not None


@dataclass(frozen=True)
class Subscriber:
    email: str
    first_name: str
    lists: str = "newsletter"
    campaigns: int = 6
    #: The person's account in the portal, by which its consent pushes name them.
    customer_id: int | None = None


def fill(path: Path, people: Sequence[Subscriber], *, others: int = 300) -> None:
    """Create the services' data: ``people`` (again, if an erasure removed them) and, once,
    ``others`` generated subscribers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(8)  # noqa: S311 (demo data, not secrets)
    with connect(path) as conn:
        _create(conn)
        generated = [
            Subscriber(f"customer{n}@example.net", "Reader", "newsletter", rng.randint(0, 5))
            for n in range(1, others + 1)
        ]
        already = conn.execute("SELECT count(*) FROM subscribers").fetchone()[0]
        for person in list(people) + (generated if not already else []):
            conn.execute(
                "DELETE FROM suppression_list WHERE email_sha256 = ?", (_sha256(person.email),)
            )
            if conn.execute(
                "SELECT 1 FROM subscribers WHERE email = ?", (person.email,)
            ).fetchone():
                conn.execute(
                    "UPDATE subscribers SET customer_id = ? WHERE email = ?",
                    (person.customer_id, person.email),
                )
                continue
            start = datetime.now(UTC) - timedelta(days=rng.randint(30, 700))
            cursor = conn.execute(
                "INSERT INTO subscribers (email, first_name, lists, source, consent_text_version,"
                " signup_ip, subscribed_at, customer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    person.email,
                    person.first_name,
                    person.lists,
                    rng.choice(["shop checkout", "trade show", "website footer"]),
                    "newsletter-2025-03",
                    f"198.51.100.{rng.randint(1, 254)}",
                    start.isoformat(timespec="seconds"),
                    person.customer_id,
                ),
            )
            conn.executemany(
                "INSERT INTO campaign_events (subscriber_id, campaign, event, user_agent, at)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        cursor.lastrowid,
                        f"2026-{month:02d} product news",
                        event,
                        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Mail",
                        (start + timedelta(days=30 * month)).isoformat(timespec="seconds"),
                    )
                    for month in range(1, person.campaigns + 1)
                    for event in ("sent", "opened")
                ],
            )


# --- the protocol, answered from the data -------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def _subscriber(conn: sqlite3.Connection, email: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM subscribers WHERE email = ?", (email.strip().lower(),)
    ).fetchone()
    return row


def _events(conn: sqlite3.Connection, subscriber_id: int) -> list[sqlite3.Row]:
    return list(
        conn.execute(
            "SELECT campaign, event, user_agent, at FROM campaign_events WHERE subscriber_id = ?"
            " ORDER BY id",
            (subscriber_id,),
        )
    )


def _table(
    entity: str, rows: Sequence[sqlite3.Row], descriptions: Mapping[str, str]
) -> dict[str, Any]:
    columns = list(rows[0].keys()) if rows else list(descriptions)
    return {
        "entity": entity,
        "columns": columns,
        "rows": [list(row) for row in rows],
        "descriptions": dict(descriptions),
    }


def newsletter_address(path: Path, subject: Mapping[str, Any]) -> str | None:
    """Return the first of the subject's addresses (current, then earlier) that has a
    subscriber, or None."""
    candidates = [subject.get("email"), *(subject.get("former_emails") or [])]
    with connect(path) as conn:
        for candidate in candidates:
            if isinstance(candidate, str) and candidate and _subscriber(conn, candidate):
                return candidate
    return None


def newsletter_action(
    path: Path, action: str, email: str, options: Mapping[str, Any], *, portability: bool = False
) -> dict[str, Any]:
    """Return the result of a synchronous newsletter action for ``email``; an export for a
    portability request holds what the person gave and did, not the platform's own marks."""
    with connect(path) as conn:
        subscriber = _subscriber(conn, email) if email else None
        if action == "health":
            count = conn.execute("SELECT count(*) FROM subscribers").fetchone()[0]
            return {"ok": True, "detail": f"{count} subscribers"}
        if action == "locate":
            if subscriber is None:
                return {"counts": {}}
            events = conn.execute(
                "SELECT count(*) FROM campaign_events WHERE subscriber_id = ?", (subscriber["id"],)
            ).fetchone()[0]
            return {
                "counts": {"subscriber": 1, "campaign_events": events}
                if events
                else {"subscriber": 1}
            }
        if action == "export":
            if subscriber is None:
                return {"tables": [], "files": []}
            record = dict(subscriber)
            record.pop("id")
            if portability:
                for internal in (
                    "consent_text_version",
                    "restricted",
                    "customer_id",
                    "consent_event_id",
                ):
                    record.pop(internal)
            return {
                "tables": [
                    {
                        "entity": "subscriber",
                        "columns": list(record),
                        "rows": [list(record.values())],
                        "descriptions": {
                            "lists": "The newsletters you receive",
                            "source": "Where you subscribed",
                            "consent_text_version": "Version of the consent text you agreed to",
                            "signup_ip": "The address your browser had when you subscribed",
                            "restricted": "Whether we stopped sending to you at your request",
                        },
                    },
                    _table(
                        "campaign_events",
                        _events(conn, subscriber["id"]),
                        {"campaign": "", "event": "sent or opened", "user_agent": "", "at": ""},
                    ),
                ],
                "files": [],
            }
        if action == "restrict":
            lift = bool(options.get("lift"))
            if subscriber is None:
                return {"counts": {}, "lifted": lift}
            conn.execute(
                "UPDATE subscribers SET restricted = ?, unsubscribed_at = ? WHERE id = ?",
                (0 if lift else 1, None if lift else _now(), subscriber["id"]),
            )
            return {"counts": {"subscriber": 1}, "lifted": lift}
    raise Refused(400, "unsupported_action")


def newsletter_erase(path: Path, email: str) -> dict[str, Any]:
    """Erase a subscriber and their events, keeping a hash of the address on the suppression
    list so that it is never mailed again; return the protocol's erasure result."""
    with connect(path) as conn:
        subscriber = _subscriber(conn, email)
        deleted: dict[str, int] = {}
        retained: list[dict[str, Any]] = []
        if subscriber is not None:
            events = conn.execute(
                "DELETE FROM campaign_events WHERE subscriber_id = ?", (subscriber["id"],)
            ).rowcount
            conn.execute("DELETE FROM subscribers WHERE id = ?", (subscriber["id"],))
            deleted = {"subscriber": 1, **({"campaign_events": events} if events else {})}
            conn.execute(
                "INSERT OR IGNORE INTO suppression_list (email_sha256, added_at) VALUES (?, ?)",
                (_sha256(email), _now()),
            )
            retained.append(
                {
                    "entity": "suppression_list",
                    "count": 1,
                    "basis": gettext_noop(
                        "A hash of the address, so that it is never mailed again "
                        "(legitimate interest, GDPR Art. 6(1)(f) and 21(3))"
                    ),
                    "until": None,
                    "fields_kept": ["email_sha256"],
                }
            )
        left = conn.execute(
            "SELECT count(*) FROM subscribers WHERE email = ?", (email.strip().lower(),)
        ).fetchone()[0]
    return {
        "deleted": deleted,
        "anonymised": {},
        "retained": retained,
        "remaining": {"subscriber": left, "campaign_events": 0},
    }


def newsletter_consent(path: Path, events: Iterable[Any]) -> int:
    """Apply the portal's consent events to the subscribers they name by customer id: a
    withdrawal of e-mail marketing unsubscribes, a grant subscribes again. An event older than
    the last one applied changes nothing (pushes may arrive twice, or out of order). Return how
    many subscribers changed."""
    changed = 0
    with connect(path) as conn:
        for event in events:
            if not isinstance(event, dict) or event.get("purpose") != NEWSLETTER_PURPOSE:
                continue
            event_id, customer_id = event.get("id"), event.get("customer_id")
            if not (isinstance(event_id, int) and isinstance(customer_id, int)):
                continue
            unsubscribed = None if event.get("granted") is True else str(event.get("occurred_at"))
            changed += conn.execute(
                "UPDATE subscribers SET unsubscribed_at = ?, consent_event_id = ?"
                " WHERE customer_id = ? AND (consent_event_id IS NULL OR consent_event_id < ?)",
                (unsubscribed, event_id, customer_id, event_id),
            ).rowcount
    return changed


def crm_notify(path: Path, email: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """Record that the group CRM was told about a request (as a recipient)."""
    with connect(path) as conn:
        cursor = conn.execute(
            "INSERT INTO notifications (endpoint, request_reference, request_type, email_sha256,"
            " received_at) VALUES (?, ?, ?, ?, ?)",
            (GROUP_CRM, request.get("reference"), request.get("type"), _sha256(email), _now()),
        )
    return {"reference": f"CRM-{cursor.lastrowid}"}


def crm_restrict(path: Path, email: str, *, lift: bool) -> dict[str, Any]:
    """Restrict the CRM's record of ``email`` (kept by hash), or lift that; return the
    protocol's restriction result."""
    with connect(path) as conn:
        if lift:
            conn.execute("DELETE FROM crm_restrictions WHERE email_sha256 = ?", (_sha256(email),))
        else:
            conn.execute(
                "INSERT OR REPLACE INTO crm_restrictions (email_sha256, restricted_at)"
                " VALUES (?, ?)",
                (_sha256(email), _now()),
            )
    return {"counts": {"customer_record": 1}, "lifted": lift}


# --- the WSGI application -------------------------------------------------------------------------


StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class DemoServices:
    """The WSGI application of both services."""

    def __init__(self, path: Path, secrets: Mapping[str, str], *, erase_delay: float = 1.0) -> None:
        self.path = path
        self.secrets = dict(secrets)
        self.erase_delay = erase_delay
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        with connect(path) as conn:
            _create(conn)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        endpoint = {
            "/newsletter/dsr": NEWSLETTER,
            "/group-crm/dsr": GROUP_CRM,
            CONSENT_PATH: NEWSLETTER_CONSENT,
        }.get(path)
        if endpoint is None or environ.get("REQUEST_METHOD") != "POST":
            return self._answer(start_response, 404, {"error": {"code": "not_found"}})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return self._answer(start_response, 400, {"error": {"code": "bad_length"}})
        body = environ["wsgi.input"].read(min(length, 1024 * 1024))
        if endpoint == NEWSLETTER_CONSENT:
            status, document = self.consent(body, environ.get("HTTP_X_INPER_SIGNATURE", ""))
            return self._answer(start_response, status, document)
        if outage_on(self.path, endpoint):
            # ``manage.py demo_outage``: a refusal the portal does not retry, for staff to see
            # a failed step and retry it once the service is back.
            return self._answer(start_response, 422, {"error": {"code": "demo_outage"}})
        headers = {
            name: environ.get("HTTP_" + name.upper().replace("-", "_"), "")
            for name in (TIMESTAMP_HEADER, SIGNATURE_HEADER, KEY_HEADER)
        }
        try:
            status, document = self.handle(endpoint, body, headers)
        except Refused as refused:
            status, document = refused.status, {"error": {"code": refused.code}}
        return self._answer(start_response, status, document)

    @staticmethod
    def _answer(start_response: StartResponse, status: int, document: Any) -> list[bytes]:
        payload = json.dumps(document).encode()
        reason = {
            200: "OK",
            202: "Accepted",
            400: "Bad Request",
            401: "Unauthorized",
            404: "Not Found",
        }
        start_response(
            f"{status} {reason.get(status, 'Error')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    def consent(self, body: bytes, signature: str) -> tuple[int, Any]:
        """Answer a push of the portal's consent webhook (signed as docs/consent.md says)."""
        secret = self.secrets.get(NEWSLETTER_CONSENT, "")
        if not secret or not consent_signature_valid(
            secret.encode(), body, signature, tolerance=CONSENT_TOLERANCE_SECONDS
        ):
            return 401, {"error": {"code": "bad_signature"}}
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return 400, {"error": {"code": "malformed"}}
        events = document.get("events") if isinstance(document, dict) else None
        if not isinstance(events, list):
            return 400, {"error": {"code": "malformed"}}
        return 200, {"changed": newsletter_consent(self.path, events)}

    def handle(self, endpoint: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, Any]:
        secret = self.secrets.get(endpoint, "")
        if not signature_valid(
            [secret], headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER]
        ):
            raise Refused(401, "bad_signature")
        if not timestamp_fresh(headers[TIMESTAMP_HEADER]):
            raise Refused(401, "stale_timestamp")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise Refused(400, "malformed") from None
        action = document.get("action")
        email = str((document.get("subject") or {}).get("email") or "")
        if action != "health" and not email:
            raise Refused(400, "no_email")
        if endpoint == GROUP_CRM:
            if action == "health":
                return 200, {"status": "done", "result": {"ok": True}}
            if action == "restrict":
                lift = bool((document.get("options") or {}).get("lift"))
                return 200, {"status": "done", "result": crm_restrict(self.path, email, lift=lift)}
            if action != "notify":
                raise Refused(400, "unsupported_action")
            return 200, {
                "status": "done",
                "result": crm_notify(self.path, email, document.get("request") or {}),
            }
        # The newsletter knows a subscriber by the address they subscribed with, which may be
        # one they had before (``former_emails``).
        email = newsletter_address(self.path, document.get("subject") or {}) or email
        if action == "erase":
            return self._erase(document, email, secret)
        return 200, {
            "status": "done",
            "result": newsletter_action(
                self.path,
                str(action),
                email,
                document.get("options") or {},
                portability=(document.get("request") or {}).get("type") == "portability",
            ),
        }

    def _erase(self, document: Mapping[str, Any], email: str, secret: str) -> tuple[int, Any]:
        key = str(document.get("idempotency_key") or "")
        callback = str(document.get("callback_url") or "")
        if not key or not callback:
            # Without a way to call back, answer at once.
            return 200, {"status": "done", "result": newsletter_erase(self.path, email)}
        with connect(self.path) as conn:
            job = conn.execute("SELECT * FROM jobs WHERE idempotency_key = ?", (key,)).fetchone()
            if job is None:
                conn.execute(
                    "INSERT INTO jobs (idempotency_key, action, status, callback_url, email,"
                    " created_at) VALUES (?, 'erase', 'pending', ?, ?, ?)",
                    (key, callback, email, _now()),
                )
            elif job["status"] == "done":
                # A repeated request gets the result it already had.
                return 200, {"status": "done", "result": json.loads(job["result"])}
        with self._lock:
            running = self._threads.get(key)
            if running is None or not running.is_alive():
                thread = threading.Thread(
                    target=self._erase_later, args=(key, email, callback, secret), daemon=True
                )
                self._threads[key] = thread
                thread.start()
        return 202, {"status": "accepted", "reference": f"job-{key[:8]}"}

    def _erase_later(self, key: str, email: str, callback: str, secret: str) -> None:
        time.sleep(self.erase_delay)
        result = newsletter_erase(self.path, email)
        with connect(self.path) as conn:
            conn.execute(
                "UPDATE jobs SET status = 'done', result = ?, email = NULL"
                " WHERE idempotency_key = ?",
                (json.dumps(result), key),
            )
        body = json.dumps(
            {
                "protocol": 1,
                "idempotency_key": key,
                "action": "erase",
                "status": "done",
                "result": result,
            }
        ).encode()
        for attempt in range(5):
            request = urllib.request.Request(  # noqa: S310 (the portal's own callback URL)
                callback, data=body, headers=signed_headers(secret, body, key), method="POST"
            )
            try:
                # The portal's own callback URL, from configuration (http or https only).
                with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  # nosec B310
                    if answer.status == 200:
                        return
            except urllib.error.HTTPError as error:
                if 400 <= error.code < 500:
                    logger.warning("callback refused", extra={"status": error.code})
                    return
            except OSError:
                pass
            time.sleep(2**attempt)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.info("demo service request", extra={"line": format % args})


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def make_demo_server(
    path: Path,
    secrets: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    port: int = 8010,
    erase_delay: float = 1.0,
) -> WSGIServer:
    """Return a threaded HTTP server of the demo services (not yet serving)."""
    return make_server(
        host,
        port,
        DemoServices(path, secrets, erase_delay=erase_delay),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )


@contextmanager
def serving(
    path: Path,
    secrets: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    port: int = 8010,
    erase_delay: float = 1.0,
) -> Iterator[str]:
    """Serve the demo services in a thread of this process while the block runs; yield their
    base URL. Raises OSError if the port is taken."""
    server = make_demo_server(path, secrets, host=host, port=port, erase_delay=erase_delay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
