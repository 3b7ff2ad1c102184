"""Every query parameter and path parameter of the portal's pages, fed the fixed corpus; and
invalid UTF-8 in URLs.

The parameters of a page are found on it (its GET forms: search boxes and filters; its links:
sort keys, page numbers, the admin's filters) plus those a view reads that no link shows
(``next``, ``t``, ``type``...). Every answer must be below 500, must not return the value
unescaped, and a GET must change nothing (only an export records that it happened).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest

from dsr.notifications import status_token
from tests.security.hostile import (
    CORPUS,
    World,
    changed_tables,
    fingerprint,
    forms_on,
    query_of,
    reflected,
    rolled_back,
)

pytestmark = pytest.mark.django_db

#: Tables an export writes on purpose: the audit record of the download.
EXPORT_WRITES = frozenset({"audit_auditevent", "audit_auditchainhead"})


@dataclass(frozen=True)
class Page:
    who: str
    path: Callable[[World], str]
    #: Parameters the view reads that the page does not show.
    extra: tuple[str, ...] = ()
    #: Whether the page is an export (which records its download).
    export: bool = False


def _fixed(path: str) -> Callable[[World], str]:
    return lambda world: path


PAGES: dict[str, Page] = {
    "sign-in": Page("anonymous", _fixed("/accounts/login/"), ("next",)),
    "sign-up": Page("anonymous", _fixed("/accounts/signup/"), ("next",)),
    "new request": Page("anonymous", _fixed("/requests/new/"), ("type",)),
    "a guest's request": Page(
        "anonymous",
        lambda w: f"/requests/{w.guest_awaiting.reference}/?t={status_token(w.guest_awaiting)}",
        ("t",),
    ),
    "a guest's download": Page("anonymous", lambda w: w.download_page, ("t",)),
    "consent history": Page("customer", _fixed("/privacy/history/"), ("page",)),
    "my request": Page("customer", lambda w: f"/requests/{w.erasure.reference}/", ("t",)),
    "my request's progress": Page(
        "customer", lambda w: f"/requests/{w.erasure.reference}/progress/", ("t",)
    ),
    "dashboard queue": Page("compliance", _fixed("/dashboard/"), ("page", "sort", "person")),
    "dashboard audit": Page("compliance", _fixed("/dashboard/audit/"), ("before",)),
    "dashboard audit export": Page(
        "compliance",
        _fixed("/dashboard/audit/export.csv"),
        ("action", "reference", "object_type", "object_id", "actor_type", "actor_id", "since"),
        export=True,
    ),
    "dashboard metrics": Page("compliance", _fixed("/dashboard/metrics/"), ("months",)),
    "dashboard metric export": Page(
        "compliance", _fixed("/dashboard/metrics/requests.csv"), ("months",), export=True
    ),
    "dashboard yearly": Page("compliance", _fixed("/dashboard/metrics/yearly/"), ("year",)),
    "dashboard yearly export": Page(
        "compliance", _fixed("/dashboard/metrics/yearly.csv"), ("year",), export=True
    ),
    "admin: customers": Page("support", _fixed("/admin/accounts/user/"), ("q", "o", "p")),
    "admin: requests": Page(
        "support", _fixed("/admin/dsr/datasubjectrequest/"), ("q", "o", "p", "received_at__year")
    ),
    "admin: opt-outs": Page("support", _fixed("/admin/consent/consentstate/"), ("q", "o", "p")),
    "admin: consent ledger": Page(
        "compliance", _fixed("/admin/consent/consentevent/"), ("q", "o", "p", "occurred_at__year")
    ),
    "admin: manual steps": Page("compliance", _fixed("/admin/dsr/manualstep/"), ("q", "o", "p")),
}
LINK = re.compile(r'href="([^"]*\?[^"]*)"')


def parameters_of(client: Any, path: str, page: Page) -> list[str]:
    """Return the query parameters the page offers (forms, links) and the view reads."""
    names = set(page.extra) | set(query_of(path))
    if not page.export:
        here = urlsplit(path).path
        for form in forms_on(client, path):
            if form.method == "get" and urlsplit(form.action).path in ("", here):
                names |= set(form.fields)
        body = client.get(path).content.decode(errors="replace")
        for href in LINK.findall(body):
            target = urlsplit(html.unescape(href))
            if target.path in ("", here):
                names |= set(query_of(html.unescape(href)))
    return sorted(names - {"csrfmiddlewaretoken"})


@pytest.fixture
def world(settings: Any) -> World:
    settings.RATELIMIT_ENABLE = False
    settings.ACCOUNT_RATE_LIMITS = False
    return World()


@pytest.mark.parametrize("name", PAGES)
def test_the_corpus_in_every_query_parameter(world, name):
    page = PAGES[name]
    client = world.client(page.who)
    path = page.path(world)
    own = query_of(path)
    base = urlsplit(path).path
    parameters = parameters_of(client, path, page)
    assert parameters, name
    problems: list[str] = []
    tried = 0
    for parameter in parameters:
        for label, value in CORPUS.items():
            url = f"{base}?{urlencode({**own, parameter: value})}"
            tried += 1
            with rolled_back(client):
                before = fingerprint()
                response = client.get(url)
                changed = set(changed_tables(before, fingerprint()))
            where = f"{name}: {parameter}={label}"
            if response.status_code >= 500:
                problems.append(f"{where}: answered {response.status_code}")
            problems += [f"{where}: came back unescaped" for _ in reflected(response, [value])]
            if changed - (EXPORT_WRITES if page.export else set()):
                problems.append(f"{where}: a GET changed {sorted(changed)}")
    print(
        f"query parameters, {name}: {tried} tried ({', '.join(parameters)}), "
        f"{len(problems)} failures"
    )
    assert not problems, "\n".join(problems[:30])


#: Routes with a path parameter: (who, method, template with {}).
ROUTES = (
    ("anonymous", "get", "/requests/{}/"),
    ("anonymous", "get", "/requests/verify/{}/"),
    ("anonymous", "post", "/requests/verify/{}/"),
    ("anonymous", "get", "/requests/{}/download/code/"),
    ("anonymous", "get", "/unsubscribe/{}/"),
    ("anonymous", "post", "/unsubscribe/{}/"),
    ("anonymous", "get", "/privacy/confirm/{}/"),
    ("anonymous", "get", "/privacy/statement/v{}/"),
    ("customer", "get", "/requests/{}/"),
    ("customer", "get", "/requests/{}/download/"),
    ("customer", "post", "/requests/{}/cancel/"),
    ("customer", "post", "/privacy/choices/{}/"),
    ("customer", "get", "/account/addresses/{}/edit/"),
    ("compliance", "get", "/dashboard/requests/{}/"),
    ("compliance", "post", "/dashboard/requests/{}/approve/"),
    ("compliance", "get", "/dashboard/metrics/{}.csv"),
    ("compliance", "post", "/dashboard/retention/{}/dry-run/"),
    ("compliance", "get", "/dashboard/tasks/{}/evidence/"),
    ("support", "get", "/admin/dsr/datasubjectrequest/{}/change/"),
    ("support", "get", "/admin/accounts/user/{}/change/"),
    ("compliance", "get", "/admin/dsr/manualstep/{}/change/"),
    ("compliance", "post", "/admin/dsr/datastore/{}/test-connection/"),
    ("support", "post", "/admin/dsr/datastore/{}/test-connection/"),
)


def test_the_corpus_in_every_path_parameter(world):
    clients = {who: world.client(who) for who in ("anonymous", "customer", "compliance", "support")}
    problems: list[str] = []
    tried = 0
    for who, method, template in ROUTES:
        client = clients[who]
        for label, value in CORPUS.items():
            url = template.format(quote(value, safe=""))
            tried += 1
            with rolled_back(client):
                before = fingerprint()
                response = getattr(client, method)(url)
                changed = changed_tables(before, fingerprint())
            where = f"{who} {method.upper()} {template} with {label}"
            if response.status_code >= 500:
                problems.append(f"{where}: answered {response.status_code}")
            problems += [f"{where}: came back unescaped" for _ in reflected(response, [value])]
            if changed:
                problems.append(f"{where}: changed {changed}")
    print(f"path parameters: {tried} tried, {len(problems)} failures")
    assert not problems, "\n".join(problems[:30])


RAW = b"\xff\xfe\xc3(\xed\xa0\x80"  # bytes that are not UTF-8 (the last three: a surrogate)
INVALID = quote(RAW)


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("anonymous", f"/requests/{INVALID}/"),
        ("anonymous", f"/unsubscribe/{INVALID}/"),
        ("anonymous", f"/{INVALID}"),
        ("anonymous", f"/requests/new/?type={INVALID}"),
        ("anonymous", f"/accounts/login/?next=/{INVALID}"),
        ("customer", f"/privacy/history/?page={INVALID}"),
        ("compliance", f"/dashboard/?q={INVALID}&sort={INVALID}&{INVALID}=1"),
        ("compliance", f"/dashboard/requests/{INVALID}/"),
        ("compliance", f"/dashboard/audit/?action={INVALID}"),
        ("support", f"/admin/accounts/user/?q={INVALID}"),
    ],
)
def test_invalid_utf8_in_urls(world, who, url):
    """Percent-encoded bytes that are not UTF-8 in paths and query strings, and the same bytes
    raw in the query string (as a client that does not encode them sends them): a query
    string that is not UTF-8 is refused (400)."""
    client = world.client(who)
    path, _, query = url.partition("?")
    # The test client hands the path's bytes to the view as a WSGI server does (raw).
    answers = [client.get(url)]
    if query:
        raw = query.replace(INVALID, RAW.decode("latin-1"))  # WSGI's latin-1 text of the bytes
        answers.append(client.get(path, QUERY_STRING=raw))
    for response in answers:
        assert response.status_code < 500, (url, response.status_code)
    if query:
        # Refused, not read as replacement characters.
        assert [response.status_code for response in answers] == [400, 400], url
