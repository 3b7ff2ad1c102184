"""Every URL pattern of the portal, walked under the production security settings.

- Each response carries the headers a careful site sends (HSTS, a strict Content-Security-Policy,
  nosniff, Referrer-Policy, Cross-Origin-Opener-Policy) and, unless it is listed below as public,
  ``Cache-Control: no-store``; every cookie set on the way is Secure and SameSite, HttpOnly unless
  listed, and the session and CSRF cookies have ``__Host-`` names.
- Every route refuses an unsafe method without a CSRF token, except the routes listed as
  deliberately token-free, which must refuse unsigned or unauthenticated input instead.
- No GET writes to the database, whoever asks.

A new URL pattern is walked automatically; one whose path parameters cannot be filled fails.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import User
from consent.models import Purpose
from dsr.models import DataSubjectRequest
from tests.conftest import login
from tests.dsr.helpers import file_request
from tests.factories import PASSWORD, AddressFactory, StaffFactory

pytestmark = pytest.mark.django_db

# The security settings the production module sets, applied as production would have them.
PRODUCTION_SECURITY = (
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "LANGUAGE_COOKIE_SECURE",
    "SESSION_COOKIE_NAME",
    "CSRF_COOKIE_NAME",
)
# Responses that hold nothing personal and may be cached (path pattern: why).
CACHEABLE = {
    r"^/\.well-known/gpc\.json$": "the site's Global Privacy Control statement",
    r"^/privacy/banner/config\.json$": "the banner's texts (private, revalidated each time)",
}
# Cookies that JavaScript must read (name: why).
SCRIPT_READABLE: dict[str, str] = {}
# Routes that take unsafe methods without a CSRF token, and what protects them instead.
TOKEN_FREE = {
    "consent_public:unsubscribe": "RFC 8058 one-click: a signed token bound to subject and purpose",
    "consent_api:sms_inbound": "the SMS provider's HMAC signature",
    "consent:banner_choice": "cross-site by design: an allow-list of origins, no account change "
    "without the CSRF token",
    "store_callback": "the data store's HMAC signature over body and timestamp",
}
# Tables a GET may write to: (which paths, why). Besides these, a request that carries a
# Global Privacy Control signal (Sec-GPC: 1) records the opt-out it means, on any page.
EXPORTS = r"(export\.csv|/download/)"
GET_MAY_WRITE = {
    "accounts_session": (r".", "the session's last-activity time (idle timeout)"),
    "audit_auditevent": (EXPORTS, "a download of records is itself recorded in the audit trail"),
    "audit_auditchainhead": (EXPORTS, "the audit chain's head moves with that record"),
}
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b.*?\b(?:INTO|FROM|UPDATE)?\s*\"(\w+)\"", re.I)


def _patterns(
    patterns: list[Any], prefix: str = "", names: tuple[str, ...] = ()
) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            namespace = (entry.namespace,) if entry.namespace else ()
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern), names + namespace)
        else:
            name = ":".join((*names, entry.name)) if entry.name else ""
            yield prefix + str(entry.pattern), name, entry


def every_pattern() -> list[tuple[str, str, URLPattern]]:
    return list(_patterns(get_resolver().url_patterns))


def _fill(route: str, values: dict[str, str]) -> str:
    """Return a concrete path for ``route`` (route syntax, or a regular expression)."""

    def route_value(match: re.Match[str]) -> str:
        return values[match.group(2)]

    def regex_value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", regex_value, route)
    path = re.sub(r"<(?:(\w+):)?(\w+)>", route_value, path)
    path = path.replace("^", "").replace("$", "")
    assert not re.search(r"[()<>\\?*+\[\]]", path), f"cannot fill {route!r}: {path!r}"
    return "/" + path


@pytest.fixture
def production(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apply the production module's own security settings."""
    monkeypatch.setenv("SECRET_KEY", "walk-" + "x1y2z3" * 10)
    monkeypatch.setenv("ALLOWED_HOSTS", "testserver")
    monkeypatch.setenv("PORTAL_HASH_KEY", "walk-hash-key-0123456789abcdef-0123")
    monkeypatch.setenv("PORTAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    sys.modules.pop("privacy_portal.settings.production", None)
    production = importlib.import_module("privacy_portal.settings.production")
    sys.modules.pop("privacy_portal.settings.production", None)
    for name in PRODUCTION_SECURITY:
        setattr(settings, name, getattr(production, name))
    assert settings.SESSION_COOKIE_NAME.startswith("__Host-")


@pytest.fixture
def world(customer: User, tmp_path: Any, settings: Any) -> dict[str, str]:
    """Objects for the path parameters, and the values that fill them."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DSR_STORAGE_DIR = tmp_path / "dsr"
    address = AddressFactory(user=customer, is_default_shipping=True)
    request = file_request(type="access", user=customer)
    purpose = Purpose.objects.filter(always_on=False).first()
    assert purpose is not None
    return {
        "reference": request.reference,
        "pk": str(address.pk),
        "key": purpose.key,
        "version": "1",
        "token": "not-a-valid-token",
        "customer_id": str(customer.pk),
        "job": "redact_requests",
        "object_id": str(customer.pk),
        "content_type_id": str(ContentType.objects.get_for_model(User).pk),
        "app_label": "accounts",
        "uidb36": "1",
        "url": "nothing-here/",
    }


def _principals(customer: User) -> dict[str, Client]:
    anonymous = Client(raise_request_exception=False)
    signed_in = Client(raise_request_exception=False)
    response = signed_in.post(
        "/accounts/login/", {"login": customer.email, "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302, response.content.decode()[:300]
    officer = login(
        Client(raise_request_exception=False), StaffFactory(is_superuser=True), mfa=True
    )
    return {"anonymous": anonymous, "customer": signed_in, "superuser": officer}


def _check_headers(url: str, response: Any) -> list[str]:
    problems = []
    expect = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": None,
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    for header, value in expect.items():
        if header not in response.headers or (value and response.headers[header] != value):
            problems.append(f"{url}: {header} = {response.headers.get(header)!r}")
    hsts = response.headers.get("Strict-Transport-Security", "")
    if "max-age=63072000" not in hsts or "includeSubDomains" not in hsts:
        problems.append(f"{url}: Strict-Transport-Security = {hsts!r}")
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    if (
        "'unsafe-inline'" in directives.get("script-src", directives.get("default-src", ["x"]))
        or directives.get("object-src") != ["'none'"]
        or directives.get("frame-ancestors") != ["'none'"]
        or not directives.get("script-src")
    ):
        problems.append(f"{url}: Content-Security-Policy = {csp!r}")
    cacheable = any(re.search(pattern, url) for pattern in CACHEABLE)
    if not cacheable and "no-store" not in response.headers.get("Cache-Control", ""):
        problems.append(f"{url}: Cache-Control = {response.headers.get('Cache-Control')!r}")
    return problems


def _check_cookies(url: str, response: Any) -> list[str]:
    problems = []
    for name, morsel in response.cookies.items():
        if not morsel.value:
            continue  # a deletion
        if not morsel["secure"]:
            problems.append(f"{url}: cookie {name} is not Secure")
        if morsel["samesite"] not in ("Lax", "Strict"):
            problems.append(f"{url}: cookie {name} has SameSite={morsel['samesite']!r}")
        if not morsel["httponly"] and name not in SCRIPT_READABLE:
            problems.append(f"{url}: cookie {name} is readable by scripts")
        if name in ("sessionid", "csrftoken") or (
            name.startswith("__Host-") and (morsel["domain"] or morsel["path"] != "/")
        ):
            problems.append(f"{url}: cookie {name} should be a __Host- cookie")
    return problems


def _writes(queries: list[dict[str, str]]) -> set[str]:
    tables = set()
    for query in queries:
        sql = query["sql"].lstrip()
        if sql.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            match = re.search(r'(?:INTO|UPDATE|FROM)\s+"(\w+)"', sql, re.I)
            tables.add(match.group(1) if match else sql[:60])
    return tables


def test_every_url_sends_the_security_headers_and_no_get_writes(production, world, customer):
    principals = _principals(customer)
    problems: list[str] = []
    walked = 0
    for route, _name, _pattern in every_pattern():
        url = _fill(route, world)
        for who, client in principals.items():
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, secure=True)
            walked += 1
            if response.status_code >= 500:
                problems.append(f"{who} GET {url}: {response.status_code}")
            problems += _check_headers(url, response)
            problems += _check_cookies(url, response)
            unexpected = {
                table
                for table in _writes(queries.captured_queries)
                if table not in GET_MAY_WRITE or not re.search(GET_MAY_WRITE[table][0], url)
            }
            if unexpected:
                problems.append(f"{who} GET {url} wrote to {sorted(unexpected)}")
    assert walked >= 3 * 200
    assert not problems, "\n".join(problems[:60])


def test_the_sign_in_cookies_are_host_only_secure_and_httponly(production, customer):
    client = Client()
    form = client.get("/accounts/login/", secure=True)
    csrf = form.cookies[django_settings.CSRF_COOKIE_NAME]
    assert django_settings.CSRF_COOKIE_NAME == "__Host-csrftoken"
    response = client.post(
        "/accounts/login/", {"login": customer.email, "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    session = response.cookies["__Host-sessionid"]
    for morsel in (csrf, session):
        assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "Lax"
        assert morsel["path"] == "/" and not morsel["domain"]


def test_every_unsafe_method_needs_a_csrf_token(world, customer):
    officer = login(
        Client(enforce_csrf_checks=True, raise_request_exception=False),
        StaffFactory(is_superuser=True),
        mfa=True,
    )
    exempt_found = set()
    problems = []
    requests_before = DataSubjectRequest.objects.count()
    for route, name, pattern in every_pattern():
        if getattr(pattern.callback, "csrf_exempt", False) or name in TOKEN_FREE:
            exempt_found.add(name)
            continue
        url = _fill(route, world)
        for method in ("post", "put", "patch", "delete"):
            response = getattr(officer, method)(url, {"anything": "1"})
            if response.status_code not in (403, 404, 405) and not (
                response.status_code == 302 and "/accounts/" in response.get("Location", "")
            ):
                problems.append(f"{method.upper()} {url} ({name}): {response.status_code}")
    assert not problems, "\n".join(problems[:60])
    assert DataSubjectRequest.objects.count() == requests_before
    # The API authenticates each call with a client token (DRF), not a session.
    api = {name for name in exempt_found if name.startswith(("api_", "consent_api:", "dsr_api:"))}
    unlisted = exempt_found - set(TOKEN_FREE) - api - {""}
    assert not unlisted, f"token-free routes not listed with their protection: {unlisted}"


@pytest.mark.parametrize("name", sorted(TOKEN_FREE))
def test_token_free_routes_refuse_unsigned_input(name, world, settings):
    settings.CONSENT_SMS_WEBHOOK_SECRET = "a-configured-secret"
    from django.urls import reverse

    from consent.models import ConsentEvent

    kwargs = {"token": world["token"]} if name == "consent_public:unsubscribe" else {}
    url = reverse(name, kwargs=kwargs)
    events = ConsentEvent.objects.count()
    response = Client(enforce_csrf_checks=True, raise_request_exception=False).post(
        url,
        data=b'{"choices": {"marketing": true}, "from": "+4915112345678", "body": "STOP"}',
        content_type="application/json",
        HTTP_ORIGIN="https://evil.example",
    )
    assert 400 <= response.status_code < 500, (url, response.status_code)
    assert ConsentEvent.objects.count() == events
