"""Every URL pattern of the portal, walked under the production settings by every principal.

- Each answer carries the headers a careful site sends (HSTS, a strict Content-Security-Policy,
  nosniff, Referrer-Policy, Cross-Origin-Opener-Policy) and, unless it is listed below as public,
  ``Cache-Control: no-store``; every cookie set on the way is Secure, SameSite, HttpOnly unless
  listed, and has a ``__Host-`` name.
- Every route refuses an unsafe method without a CSRF token, except the routes listed as
  deliberately token-free, which must refuse unsigned or unauthenticated input instead.
- No GET writes to the database, whoever asks, except the writes listed by name.

A new URL pattern is walked automatically. The walk fails for a pattern whose parameters cannot
be filled, and for one that no principal reached (no answer but a refusal or a redirect): give
its parameters real objects in ``tests/security/routes.py``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from consent.models import ConsentEvent
from dsr.models import DataSubjectRequest
from tests.conftest import login
from tests.factories import PASSWORD, StaffFactory
from tests.security.conftest import isolated, queries_of
from tests.security.routes import Urls, every_pattern, pattern_key

pytestmark = pytest.mark.django_db

# Answers that hold nothing personal and may be cached (URL name: why).
CACHEABLE = {
    "consent_public:gpc": "the site's Global Privacy Control statement",
    "consent:banner_config": "the banner's texts (private, revalidated each time)",
}
# Cookies that JavaScript must read (setting naming the cookie: why).
SCRIPT_READABLE = {"CONSENT_COOKIE_NAME": "banner.js reads and writes the visitor's choice"}
# Patterns that show no principal a page, by design (pattern, a regular expression: why).
NOT_A_PAGE = {
    r"admin:view_on_site": "no model of the portal has a public page to link to",
    r"admin/\(\?P<url>\.\*\)\$": "the admin's catch-all: 404 for any other path below /admin/",
    r"admin/\w+/\w+/<path:object_id>/": "Django's old admin URL: redirects to the change page",
    r"admin:login": "the admin signs in through allauth (a redirect there)",
    r"admin:password_change": "the admin changes passwords through allauth (a redirect there)",
    r"account_reset_password_from_key": "a valid link redirects to the same page without the key "
    "in its address (allauth keeps the key in the session)",
    r"account_confirm_login_code": "sign-in by an e-mailed code is off",
    r"account_set_password": "every account has a password (sign-up asks for one)",
    r"accounts:closed": "shown once, to the browser that just closed its account "
    "(tests/accounts/test_close.py); anyone else goes to the start page",
}
# Tables a GET may write to: (URL names, or "*" for any; why).
DOWNLOADS = {"dsr:download", "dashboard:audit_csv", "admin:consent_consentevent_export"}
GET_MAY_WRITE: dict[str, tuple[set[str] | str, str]] = {
    "accounts_session": ("*", "the session's last-activity time (idle timeout), allauth's state"),
    "audit_auditevent": (DOWNLOADS, "a download of records is itself recorded in the audit trail"),
    "audit_auditchainhead": (DOWNLOADS, "the audit chain's head moves with that record"),
    "dsr_exportpackage": ({"dsr:download"}, "the package's download count and time"),
    "mfa_authenticator": (
        {"mfa_view_recovery_codes", "mfa_download_recovery_codes"},
        "allauth notes that the recovery codes were shown (for its show-once option)",
    ),
}
# Routes that take unsafe methods without a CSRF token, and what protects them instead. The
# API's routes (Django REST framework) are listed by name in ``TOKEN_AUTHENTICATED``.
TOKEN_FREE = {
    "consent_public:unsubscribe": "RFC 8058 one-click: a signed token bound to subject and purpose",
    "consent_api:sms_inbound": "the SMS provider's HMAC signature",
    "consent:banner_choice": "called cross-site by Inper's other sites: an allow-list of origins, "
    "and the account is changed only with the CSRF token",
    "store_callback": "the data store's HMAC signature over body and timestamp",
    "api_schema": "the API's public description: answers GET only (405 to anything else)",
    "api_docs": "the API's public documentation page: answers GET only (405 to anything else)",
}
TOKEN_AUTHENTICATED = {
    "consent_api:customer": "a client token with consent:read; never a session",
    "consent_api:lookup": "a client token with consent:read; never a session",
    "consent_api:events": "a client token with consent:write; never a session",
    "consent_api:changes": "a client token with consent:changes; never a session",
    "consent_api:purposes": "a client token; never a session",
    "dsr_api:requests": "a client token with requests:write; never a session",
    "dsr_api:request": "a client token with requests:read; never a session",
}


def _reached(statuses: dict[str, int]) -> bool:
    """Whether a principal got an answer of the view itself: a page, a 405 (the route takes
    POST only; walked below), or a 403 even for the superuser (append-only records)."""
    return any(200 <= code < 300 or code == 405 for code in statuses.values()) or (
        statuses.get("superuser") == 403
    )


def _check_headers(url: str, name: str, response: Any) -> list[str]:
    problems = []
    expect = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    for header, value in expect.items():
        if response.headers.get(header) != value:
            problems.append(f"{url}: {header} = {response.headers.get(header)!r}")
    hsts = response.headers.get("Strict-Transport-Security", "")
    if hsts != "max-age=63072000; includeSubDomains; preload":
        problems.append(f"{url}: Strict-Transport-Security = {hsts!r}")
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    scripts = directives.get("script-src", directives.get("default-src", []))
    if (
        not scripts
        or "'unsafe-inline'" in scripts
        or "'unsafe-eval'" in scripts
        or directives.get("object-src") != ["'none'"]
        or directives.get("frame-ancestors") != ["'none'"]
    ):
        problems.append(f"{url}: Content-Security-Policy = {csp!r}")
    if name not in CACHEABLE and "no-store" not in response.headers.get("Cache-Control", ""):
        problems.append(f"{url}: Cache-Control = {response.headers.get('Cache-Control')!r}")
    return problems


def check_cookies(url: str, response: Any) -> list[str]:
    """Return what is wrong with the cookies ``response`` sets (deletions aside)."""
    readable = {getattr(django_settings, setting) for setting in SCRIPT_READABLE}
    problems = []
    for name, morsel in response.cookies.items():
        if not morsel.value or morsel["max-age"] == 0:
            continue  # a deletion
        if not morsel["secure"]:
            problems.append(f"{url}: cookie {name} is not Secure")
        if morsel["samesite"] not in ("Lax", "Strict"):
            problems.append(f"{url}: cookie {name} has SameSite={morsel['samesite']!r}")
        if not morsel["httponly"] and name not in readable:
            problems.append(f"{url}: cookie {name} is readable by scripts")
        if not name.startswith("__Host-") or morsel["domain"] or morsel["path"] != "/":
            problems.append(f"{url}: cookie {name} is not a __Host- cookie (path /, no domain)")
    return problems


def _writes(queries: list[dict[str, str]]) -> set[str]:
    tables = set()
    for query in queries:
        sql = query["sql"].lstrip()
        if sql.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            match = re.search(r'(?:INTO|UPDATE|FROM)\s+"(\w+)"', sql, re.I)
            tables.add(match.group(1) if match else sql[:60])
    return tables


def _unexpected_writes(name: str, tables: set[str]) -> set[str]:
    unexpected = set()
    for table in tables:
        where, _why = GET_MAY_WRITE.get(table, (set(), ""))
        if where != "*" and name not in where:
            unexpected.add(table)
    return unexpected


def test_every_url_sends_the_security_headers_and_no_get_writes(production, world, people, figure):
    urls = Urls(world)
    assert people["customer_a"].cookies["__Host-sessionid"].value
    problems: list[str] = []
    writes: list[str] = []
    walked = 0
    unreached = []
    for route, name, _pattern in every_pattern():
        url = urls.url(route, name)
        statuses = {}
        for who, client in people.items():
            with isolated(client), queries_of() as queries:
                response = client.get(url, secure=True)
            walked += 1
            statuses[who] = response.status_code
            if response.status_code >= 500:
                problems.append(f"{who} GET {url}: {response.status_code}")
            problems += _check_headers(url, name, response)
            problems += check_cookies(url, response)
            unexpected = _unexpected_writes(name, _writes(queries.captured_queries))
            if unexpected:
                writes.append(f"{who} GET {url} wrote to {sorted(unexpected)}")
        key = pattern_key(route, name)
        if not _reached(statuses) and not any(re.fullmatch(pattern, key) for pattern in NOT_A_PAGE):
            unreached.append(f"{key} ({url}): {statuses}")
    figure("URL patterns reached with real objects", len(every_pattern()), len(unreached))
    figure("GET answers checked for headers and cookies", walked, len(problems))
    figure("GETs checked for database writes", walked, len(writes))
    assert walked >= len(people) * 200
    assert not unreached, "patterns no principal reached:\n" + "\n".join(unreached)
    assert not problems + writes, "\n".join((problems + writes)[:60])


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
    # allauth works with them: signed in, then signed out for good.
    assert client.get("/account/", secure=True).status_code == 200
    client.post("/accounts/logout/", secure=True)
    assert client.get("/account/", secure=True).status_code == 302


def test_the_cookies_set_by_actions_are_host_only_too(production, customer, figure):
    """The language, the banner's choice and messages: every cookie an action sets, checked as
    the walk checks them, and the banner still reads its cookie back."""
    client = login(Client(), customer)
    answers = {
        "language": client.post("/language/", {"language": "de", "next": "/"}, secure=True),
        "cookie choice": client.post("/privacy/cookies/", {"action": "accept_all"}, secure=True),
        "a message": client.post(
            "/account/addresses/new/",
            {
                "recipient": "A",
                "line1": "2 Other Road",
                "postal_code": "10115",
                "city": "Berlin",
                "country": "DE",
            },
            secure=True,
        ),
    }
    consent_cookie = django_settings.CONSENT_COOKIE_NAME
    assert consent_cookie == "__Host-inper_consent"
    assert answers["language"].cookies["__Host-django_language"].value == "de"
    assert (
        answers["cookie choice"]
        .cookies[consent_cookie]
        .value.endswith("analytics+marketing+necessary+preferences")
    )
    assert answers["a message"].status_code == 302
    assert not any(name == "messages" for answer in answers.values() for name in answer.cookies)
    # Global Privacy Control rewrites the browser's copy of the choice.
    answers["gpc"] = client.get("/", secure=True, HTTP_SEC_GPC="1")
    assert "marketing" not in answers["gpc"].cookies[consent_cookie].value.split(".")[-1]
    problems = [
        problem for url, answer in answers.items() for problem in check_cookies(url, answer)
    ]
    figure("cookies set by actions", sum(len(a.cookies) for a in answers.values()), len(problems))
    assert not problems, problems
    # The banner on the portal is told the cookie's name, and the page reads the choice back.
    page = client.get("/privacy/cookies/", secure=True).content.decode()
    assert f'data-cookie="{consent_cookie}"' in page
    assert "checked" in page.split('name="analytics"')[1].split(">")[0]


def test_every_unsafe_method_needs_a_csrf_token(production, world, superuser, figure):
    urls = Urls(world)
    officer = login(
        Client(enforce_csrf_checks=True, raise_request_exception=False), superuser, mfa=True
    )
    problems = []
    tried = 0
    exempt = set()
    requests_before = DataSubjectRequest.objects.count()
    events_before = ConsentEvent.objects.count()
    for route, name, pattern in every_pattern():
        if getattr(pattern.callback, "csrf_exempt", False):
            exempt.add(pattern_key(route, name))
            continue
        url = urls.url(route, name)
        for method in ("post", "put", "patch", "delete"):
            # From the portal's own origin, as a browser would say: only the token is missing.
            response = getattr(officer, method)(
                url, {"anything": "1"}, secure=True, HTTP_ORIGIN="https://testserver"
            )
            tried += 1
            problems += _check_headers(url, name, response)
            # Refused by the CSRF check itself (its own page), before any view ran.
            if response.status_code != 403 or "403_csrf.html" not in [
                t.name for t in response.templates
            ]:
                problems.append(f"{method.upper()} {url} ({name}): {response.status_code}")
    figure("unsafe requests without a CSRF token", tried, len(problems))
    assert not problems, "\n".join(problems[:60])
    assert DataSubjectRequest.objects.count() == requests_before
    assert ConsentEvent.objects.count() == events_before
    listed = set(TOKEN_FREE) | set(TOKEN_AUTHENTICATED)
    assert exempt == listed, (
        f"token-free routes not listed with their protection: {exempt - listed}; "
        f"listed but no longer token-free: {listed - exempt}"
    )


@pytest.mark.parametrize("name", sorted(TOKEN_FREE))
def test_token_free_routes_refuse_unsigned_input(name, world, settings):
    settings.CONSENT_SMS_WEBHOOK_SECRET = "a-configured-secret"
    forged = "eyJzIjoxLCJwIjoibWFya2V0aW5nX3NtcyIsIm4iOiIwIn0:1xW6RZ:forged-signature"
    kwargs = {"token": forged} if name == "consent_public:unsubscribe" else {}
    events = ConsentEvent.objects.count()
    response = Client(enforce_csrf_checks=True, raise_request_exception=False).post(
        reverse(name, kwargs=kwargs),
        data=b'{"choices": {"marketing": true}, "from": "+4915112345678", "body": "STOP"}',
        content_type="application/json",
        HTTP_ORIGIN="https://evil.example",
    )
    assert 400 <= response.status_code < 500, response.status_code
    assert ConsentEvent.objects.count() == events


@pytest.mark.parametrize("name", sorted(TOKEN_AUTHENTICATED))
def test_the_api_refuses_a_session_and_a_missing_token(name, world):
    """A signed-in superuser's session (cookies, no CSRF token) is not an API credential."""
    kwargs = {}
    if "<int:customer_id>" in next(r for r, n, _p in every_pattern() if n == name):
        kwargs = {"customer_id": world.customer.pk}
    elif name == "dsr_api:request":
        kwargs = {"reference": world.api_request.reference}
    url = reverse(name, kwargs=kwargs)
    session = login(Client(enforce_csrf_checks=True), StaffFactory(is_superuser=True), mfa=True)
    events, requests = ConsentEvent.objects.count(), DataSubjectRequest.objects.count()
    body = {"email": world.customer.email, "purpose": "marketing_sms", "granted": False}
    for client in (session, Client()):
        for method in ("get", "post"):
            response = getattr(client, method)(url, body, content_type="application/json")
            assert response.status_code in (401, 403, 405), (method, response.status_code)
            assert response.status_code == 405 or response["Content-Type"].startswith(
                "application/json"
            )
    assert (ConsentEvent.objects.count(), DataSubjectRequest.objects.count()) == (
        events,
        requests,
    )
