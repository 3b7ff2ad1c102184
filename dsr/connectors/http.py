"""Inper's own services as data stores, over the portal's signed JSON protocol.

The protocol is written down in ``docs/http-store-protocol.md``. In short: every action is a
POST of a JSON document to the store's one URL, signed with HMAC-SHA256 over the timestamp
and the body, and carrying the task's idempotency key. The service answers with the result
at once (200), or accepts the work (202) and later posts the result, signed the same way, to
the portal's callback URL (:mod:`dsr.callbacks`).

Safety: requests go to the configured URL only (redirects are never followed, proxies from the
environment are not used), with connect and read timeouts and a cap on the answer's size; a
service's error text is never stored (only its status and error code), because it might quote
personal data. Identities sent are only those the configuration lists (``send_identities``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import ipaddress
import json
import re
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import httpx
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_stubs_ext import StrOrPromise

from ..texts import ConfiguredText, text_lazy, texts_parse
from .base import (
    ConfigurationError,
    Connector,
    EraseResult,
    ExportResult,
    ExportSink,
    HealthResult,
    LocateResult,
    NotifyResult,
    Pending,
    PermanentStoreError,
    RectifyResult,
    RestrictResult,
    Retention,
    StoreError,
    Subject,
    TemporaryStoreError,
    connector_config,
    names_a_credential,
)

PROTOCOL_VERSION = 1
TIMESTAMP_HEADER = "X-Inper-Timestamp"
SIGNATURE_HEADER = "X-Inper-Signature"
STORE_HEADER = "X-Inper-Store"
KEY_HEADER = "Idempotency-Key"
#: How far a signed message's timestamp may be from the receiver's clock.
TIMESTAMP_TOLERANCE_SECONDS = 300
#: Actions a service may accept for later (202) instead of answering at once.
DEFERRABLE = frozenset({"export", "erase", "restrict", "rectify", "notify"})
IDENTITY_FIELDS = ("email", "customer_id", "phone", "order_numbers", "name")
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


# --- signatures (used both ways: requests to services, and their callbacks) -------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature header value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signature_valid(secrets: Sequence[str], timestamp: str, body: bytes, header: str) -> bool:
    """Return True if one of the ``v1=`` signatures in ``header`` is ``body``'s under one of
    ``secrets`` (several while a secret is being replaced)."""
    offered = [part.strip() for part in header.split(",") if part.strip().startswith("v1=")]
    return any(
        # Bytes: a header's text may hold any Latin-1 character, which compare_digest refuses
        # in a str.
        hmac.compare_digest(sign(secret, timestamp, body).encode(), candidate.encode())
        for secret in secrets
        if secret
        for candidate in offered
    )


def timestamp_fresh(timestamp: str, *, now: float | None = None) -> bool:
    """Return True if ``timestamp`` (Unix seconds) is within the tolerance of ``now``."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    return abs((time.time() if now is None else now) - sent) <= TIMESTAMP_TOLERANCE_SECONDS


def signed_headers(secret: str, body: bytes, idempotency_key: str) -> dict[str, str]:
    """Return the headers that authenticate ``body``."""
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        KEY_HEADER: idempotency_key,
    }


def callback_url() -> str:
    """Return the URL where services post their deferred results."""
    return f"{settings.DSR_CALLBACK_BASE_URL}{reverse('store_callback')}"


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceConfig:
    url: str
    timeout: float
    send_identities: tuple[str, ...]
    max_response_bytes: int
    #: The columns' explanations by entity (see :func:`configured_descriptions`).
    descriptions: Mapping[str, Mapping[str, ConfiguredText]] = field(default_factory=dict)


#: The largest answer a store's configuration may allow: read whole and parsed as JSON, it
#: must leave the worker well under its memory budget.
MAX_RESPONSE_BYTES = 50 * 1024 * 1024


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: A label of a host name (after IDNA): letters, digits, inner hyphens, and the underscores
#: of names in a private network (a container's service).
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def _check_address(url: str, host: str) -> None:
    """Refuse an address no service can have: a malformed host name or port, or an address of
    the machine's own network link (169.254.x.x, where clouds answer with the machine's
    credentials), a multicast or an unspecified one. Names of one label (a service in a
    private network, "crm") are fine."""
    invalid = ConfigurationError(
        gettext_noop("url is not a valid address (check the host name and the port).")
    )
    try:
        port = urlsplit(url).port
    except ValueError:  # not a number, or beyond 65535
        raise invalid from None
    if port == 0:
        raise invalid
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            labels = host.rstrip(".").encode("idna").decode("ascii").split(".")
        except UnicodeError:
            raise invalid from None
        if not all(_HOST_LABEL.fullmatch(label) for label in labels):
            raise invalid from None
        return
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        raise ConfigurationError(
            gettext_noop("url must not be a link-local, multicast or unspecified address.")
        )


def parse_config(config: Mapping[str, Any], secrets: Mapping[str, str]) -> ServiceConfig:
    """Return the service's configuration; raise ConfigurationError saying what is wrong."""
    allowed = {
        "url",
        "timeout_seconds",
        "send_identities",
        "max_response_bytes",
        "allow_insecure_http",
        "actions",
        "purpose_keys",
        "assigned_group",
        "descriptions",
    }
    unknown = set(config) - allowed
    if unknown:
        raise ConfigurationError(
            gettext_noop("Unknown configuration keys: %(keys)s."), keys=", ".join(sorted(unknown))
        )
    url = config.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(gettext_noop("url must be the service's http(s) address."))
    _check_address(str(url), parts.hostname)
    if (
        parts.username
        or parts.password
        or names_a_credential(
            (name for name, _value in parse_qsl(parts.query, keep_blank_values=True)),
            ("pass", "pwd", "secret", "token", "key", "auth", "sig"),
        )
    ):
        raise ConfigurationError(gettext_noop("url must not contain credentials: use the secrets."))
    if parts.fragment:
        raise ConfigurationError(gettext_noop("url must not contain a fragment (#…)."))
    if (
        parts.scheme == "http"
        and not _is_loopback(parts.hostname)
        and not config.get("allow_insecure_http")
    ):
        raise ConfigurationError(
            gettext_noop("url must use https: personal data must not travel unencrypted.")
        )
    timeout = config.get("timeout_seconds", 15)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 1 <= timeout <= 120:
        raise ConfigurationError(gettext_noop("timeout_seconds must be a number from 1 to 120."))
    identities = config.get("send_identities", ["email"])
    if (
        not isinstance(identities, list)
        or not identities
        or not set(identities) <= set(IDENTITY_FIELDS)
    ):
        raise ConfigurationError(
            gettext_noop("send_identities must list some of: %(fields)s."),
            fields=", ".join(IDENTITY_FIELDS),
        )
    size = config.get("max_response_bytes", 20 * 1024 * 1024)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1024:
        raise ConfigurationError(
            gettext_noop("max_response_bytes must be a whole number of bytes.")
        )
    if size > MAX_RESPONSE_BYTES:
        raise ConfigurationError(
            gettext_noop(
                "max_response_bytes can be at most %(n)d (50 MB): a worker holds the whole "
                "answer in memory while it reads it."
            ),
            n=MAX_RESPONSE_BYTES,
        )
    if not secrets.get("signing_secret"):
        raise ConfigurationError(
            gettext_noop(
                "Set the secret “signing_secret”, shared with the service, to sign requests."
            )
        )
    if len(secrets["signing_secret"]) < 32:
        raise ConfigurationError(
            gettext_noop("signing_secret must be at least 32 characters long.")
        )
    return ServiceConfig(
        str(url), float(timeout), tuple(identities), size, configured_descriptions(config)
    )


def configured_descriptions(config: Mapping[str, Any]) -> dict[str, dict[str, ConfiguredText]]:
    """Return the configuration's ``descriptions``: for each entity the service exports, its
    columns' explanations for the person (each a text or texts by language). They complete,
    and take the place of, the descriptions the service sends with its tables."""
    configured = config.get("descriptions")
    if configured is None:
        return {}
    if not isinstance(configured, Mapping):
        raise ConfigurationError(
            _('descriptions must be an object: {"entity": {"column": "explanation"}}.')
        )
    return {
        str(entity): texts_parse(columns, f"descriptions.{entity}")
        for entity, columns in configured.items()
    }


# --- reading the service's results --------------------------------------------------------------


class ProtocolError(PermanentStoreError):
    """The service's answer does not follow the protocol."""


def _bad(where: str) -> ProtocolError:
    return ProtocolError(
        gettext_noop("The service's answer does not follow the protocol (%(where)s)."), where=where
    )


def _counts(value: Any, where: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _bad(where)
    counts: dict[str, int] = {}
    for entity, count in value.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _bad(f"{where}.{str(entity)[:40]}")
        counts[str(entity)[:100]] = count
    return counts


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad(where)
    return tuple(item[:100] for item in value)


def _retained(value: Any) -> tuple[Retention, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad("retained")
    kept = []
    for index, item in enumerate(value):
        where = f"retained[{index}]"
        if not isinstance(item, Mapping):
            raise _bad(where)
        count = item.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _bad(f"{where}.count")
        if not isinstance(item.get("entity"), str) or not isinstance(item.get("basis"), str):
            raise _bad(f"{where}.entity/basis")
        until = None
        if item.get("until") is not None:
            try:
                until = date.fromisoformat(str(item["until"]))
            except ValueError:
                raise _bad(f"{where}.until") from None
        kept.append(
            Retention(
                entity=item["entity"][:100],
                count=count,
                basis=item["basis"][:500],
                until=until,
                fields_kept=_strings(item.get("fields_kept"), f"{where}.fields_kept"),
            )
        )
    return tuple(kept)


def result_from(
    action: str,
    data: Any,
    sink: ExportSink | None = None,
    *,
    described: Mapping[str, Mapping[str, ConfiguredText]] | None = None,
) -> Any:
    """Return the connector result of ``action`` from a service's result document (writing an
    export's tables and files to ``sink``, with the columns ``described`` in the store's
    configuration explained so)."""
    if not isinstance(data, Mapping):
        raise _bad("result")
    if action == "locate":
        return LocateResult(_counts(data.get("counts"), "counts"))
    if action == "erase":
        return EraseResult(
            deleted=_counts(data.get("deleted"), "deleted"),
            anonymised=_counts(data.get("anonymised"), "anonymised"),
            retained=_retained(data.get("retained")),
            remaining=_counts(data.get("remaining"), "remaining"),
        )
    if action == "restrict":
        return RestrictResult(_counts(data.get("counts"), "counts"), bool(data.get("lifted")))
    if action == "rectify":
        return RectifyResult(
            _counts(data.get("counts"), "counts"), _strings(data.get("fields"), "fields")
        )
    if action == "notify":
        reference = data.get("reference", "")
        return NotifyResult(str(reference)[:200] if isinstance(reference, str | int) else "")
    if action == "export":
        if sink is None:
            raise PermanentStoreError(gettext_noop("An export needs somewhere to write to."))
        return _export(data, sink, described or {})
    raise _bad("action")


def _export(
    data: Mapping[str, Any],
    sink: ExportSink,
    described: Mapping[str, Mapping[str, ConfiguredText]],
) -> ExportResult:
    counts: dict[str, int] = {}
    tables = data.get("tables") or []
    if not isinstance(tables, list):
        raise _bad("tables")
    for index, table in enumerate(tables):
        where = f"tables[{index}]"
        if not isinstance(table, Mapping) or not isinstance(table.get("entity"), str):
            raise _bad(f"{where}.entity")
        columns = _strings(table.get("columns"), f"{where}.columns")
        rows = table.get("rows") or []
        if not columns or not isinstance(rows, list):
            raise _bad(f"{where}.columns/rows")
        for row_index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(columns):
                raise _bad(f"{where}.rows[{row_index}]")
        descriptions = table.get("descriptions") or {}
        if not isinstance(descriptions, Mapping):
            raise _bad(f"{where}.descriptions")
        entity = table["entity"][:100]
        texts: dict[str, StrOrPromise] = {str(k): str(v)[:500] for k, v in descriptions.items()}
        for column, text in described.get(entity, {}).items():
            texts[column] = text_lazy(text)
        counts[entity] = sink.table(entity, columns, rows, descriptions=texts)
    files = data.get("files") or []
    if not isinstance(files, list):
        raise _bad("files")
    for index, item in enumerate(files):
        where = f"files[{index}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise _bad(f"{where}.name")
        try:
            content = base64.b64decode(str(item.get("content_base64", "")), validate=True)
        except (binascii.Error, ValueError):
            raise _bad(f"{where}.content_base64") from None
        sink.file(item["name"], io.BytesIO(content), description=str(item.get("description", "")))
    return ExportResult(counts, files=len(files))


def error_code(document: Any) -> str:
    """Return the service's error code if it is a plain code (never its message)."""
    error = document.get("error") if isinstance(document, Mapping) else None
    code = error.get("code") if isinstance(error, Mapping) else None
    return code if isinstance(code, str) and _CODE.match(code) else ""


# --- the connector --------------------------------------------------------------------------------


class HTTPConnector(Connector):
    """One of Inper's services, reached with the signed JSON protocol."""

    kind: ClassVar[str] = "http"
    supports: ClassVar[frozenset[str]] = frozenset(
        {"locate", "export", "erase", "restrict", "rectify", "notify"}
    )
    secret_keys: ClassVar[frozenset[str]] = frozenset(
        {"signing_secret", "previous_signing_secret", "bearer_token"}
    )

    @classmethod
    def validate_config(cls, config: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        parse_config(connector_config(config), secrets)

    @property
    def service(self) -> ServiceConfig:
        return parse_config(self.config, self.secrets)

    def _subject(self, subject: Subject) -> dict[str, Any]:
        sent: dict[str, Any] = {}
        for name in self.service.send_identities:
            value = getattr(subject, name)
            if value:
                sent[name] = list(value) if isinstance(value, tuple) else value
        if "email" in sent and subject.former_emails:
            # The service may know the person by an address they had before.
            sent["former_emails"] = [e for e in subject.emails if e != sent["email"]]
        return sent

    def _document(
        self, action: str, subject: Subject | None, options: Mapping[str, Any]
    ) -> tuple[bytes, str]:
        context = self.context
        key = context.idempotency_key if context else str(uuid.uuid4())
        document: dict[str, Any] = {
            "protocol": PROTOCOL_VERSION,
            "action": action,
            "idempotency_key": key,
            "store": self.store_key,
            "request": (
                {"reference": context.request_reference, "type": context.request_type}
                if context
                else None
            ),
            "subject": self._subject(subject) if subject else None,
            "options": dict(options),
        }
        if action in DEFERRABLE and context is not None:
            document["callback_url"] = callback_url()
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode(), key

    def _post(self, action: str, subject: Subject | None, **options: Any) -> tuple[int, Any]:
        """Send one signed action; return (status, answer document) of a 200 or 202 answer,
        or raise the store error the answer means."""
        service = self.service
        body, key = self._document(action, subject, options)
        headers = signed_headers(self.secrets["signing_secret"], body, key)
        headers[STORE_HEADER] = self.store_key
        headers["User-Agent"] = "InperPrivacyPortal/1"
        headers["Accept"] = "application/json"
        if self.secrets.get("bearer_token"):
            headers["Authorization"] = f"Bearer {self.secrets['bearer_token']}"
        timeout = httpx.Timeout(service.timeout, connect=min(service.timeout, 5.0))
        # httpx's read timeout is per read: a service sending a byte now and then would never
        # reach it. The whole answer must arrive within the timeout.
        deadline = time.monotonic() + service.timeout
        try:
            with (
                httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
                client.stream("POST", service.url, content=body, headers=headers) as response,
            ):
                status = response.status_code
                payload = self._read(response.iter_bytes(), service, deadline)
        except httpx.TimeoutException:
            raise self._late(service) from None
        except httpx.TransportError as error:
            raise TemporaryStoreError(
                gettext_noop("The service cannot be reached (%(error)s)."),
                error=type(error).__name__,
            ) from None
        return self._interpret(action, status, payload)

    @staticmethod
    def _late(service: ServiceConfig) -> TemporaryStoreError:
        return TemporaryStoreError(
            gettext_noop("The service did not answer within %(seconds)s seconds."),
            seconds=f"{service.timeout:g}",
        )

    @classmethod
    def _read(cls, chunks: Iterator[bytes], service: ServiceConfig, deadline: float) -> bytes:
        limit = service.max_response_bytes
        buffer = bytearray()
        for chunk in chunks:
            buffer += chunk
            if len(buffer) > limit:
                raise PermanentStoreError(
                    gettext_noop("The service's answer is larger than %(n)d bytes."), n=limit
                )
            if time.monotonic() > deadline:
                raise cls._late(service)
        return bytes(buffer)

    def _interpret(self, action: str, status: int, payload: bytes) -> tuple[int, Any]:
        try:
            document = json.loads(payload) if payload else {}
        except (ValueError, RecursionError):
            document = None
        if 300 <= status < 400:
            raise PermanentStoreError(
                gettext_noop(
                    "The service answered with a redirect (HTTP %(status)d); redirects are"
                    " not followed."
                ),
                status=status,
            )
        code = error_code(document)
        detail = f" ({code})" if code else ""
        if status in _RETRY_STATUSES:
            raise TemporaryStoreError(
                gettext_noop("The service answered HTTP %(status)d%(detail)s."),
                status=status,
                detail=detail,
            )
        if status >= 400:
            raise PermanentStoreError(
                gettext_noop("The service refused the request: HTTP %(status)d%(detail)s."),
                status=status,
                detail=detail,
            )
        if status == 202 and action in DEFERRABLE and self.context is not None:
            reference = document.get("reference", "") if isinstance(document, Mapping) else ""
            return status, {"reference": str(reference)[:200]}
        if status != 200 or not isinstance(document, Mapping) or document.get("status") != "done":
            raise _bad(f"HTTP {status}")
        return status, document.get("result")

    def _act(
        self, action: str, subject: Subject, sink: ExportSink | None = None, **options: Any
    ) -> Any:
        status, result = self._post(action, subject, **options)
        if status == 202:
            return Pending(
                "callback",
                _("Waiting for the service to post its result."),
                reference=result["reference"]
                or (self.context.idempotency_key if self.context else ""),
            )
        return result_from(action, result, sink, described=self.service.descriptions)

    # -- actions --

    def health_check(self) -> HealthResult:
        try:
            _status, result = self._post("health", None)
        except StoreError as error:
            return HealthResult(False, str(error))
        ok = isinstance(result, Mapping) and result.get("ok") is True
        return HealthResult(
            ok,
            _("The service answered and reports it is ready.")
            if ok
            else _("The service answered but reports a problem."),
        )

    def locate(self, subject: Subject) -> LocateResult:
        _status, result = self._post("locate", subject)
        located: LocateResult = result_from("locate", result)
        return located

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult | Pending:
        exported: ExportResult | Pending = self._act("export", subject, sink)
        return exported

    def erase(self, subject: Subject) -> EraseResult | Pending:
        erased: EraseResult | Pending = self._act("erase", subject)
        return erased

    def restrict(self, subject: Subject, *, lift: bool = False) -> RestrictResult | Pending:
        restricted: RestrictResult | Pending = self._act("restrict", subject, lift=lift)
        return restricted

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> RectifyResult | Pending:
        rectified: RectifyResult | Pending = self._act("rectify", subject, changes=dict(changes))
        return rectified

    def notify(
        self,
        subject: Subject,
        *,
        request_type: str,
        changes: Mapping[str, str] | None = None,
    ) -> NotifyResult | Pending:
        options: dict[str, Any] = {"request_type": request_type}
        if changes:
            options["changes"] = dict(changes)
        notified: NotifyResult | Pending = self._act("notify", subject, **options)
        return notified

    def confirm_identity(self, subject: Subject) -> bool:
        try:
            _status, result = self._post("confirm_identity", subject)
        except StoreError:
            return False
        return isinstance(result, Mapping) and result.get("confirmed") is True
