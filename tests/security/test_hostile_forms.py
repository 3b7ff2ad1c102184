"""Every form of the portal, fed hostile input: a fixed corpus on every field and every query
parameter, random text from hypothesis, invalid UTF-8, a 10 MB body and 10,000 fields.

The forms are found on their pages (every input, select and textarea the page renders), so a
new field is fuzzed without a change here. Each answer must be below 500, must not reflect the
input unescaped, and a refused input must leave the database as it was.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from privacy_portal.permissions import COMPLIANCE_GROUP, SUPPORT_GROUP
from tests.conftest import login
from tests.factories import AddressFactory, StaffFactory

pytestmark = pytest.mark.django_db

MARKUP = '<script>alert("x")</script>'
CORPUS = (
    "' OR '1'='1' --",
    "'; DROP TABLE accounts_user; --",
    "1 UNION SELECT password FROM accounts_user",
    MARKUP,
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "a\x00b",
    "\u202egnp.exe",
    "zero\u200bwidth\ufeff",
    "%s%s%n{0}{{7*7}}${7*7}",
    "😀" * 300,
    "A" * 100_000,
    "-1",
    "99999999999999999999999",
    "",
)
# (who, page with the form, the form's action if it differs)
FORMS = (
    ("anonymous", "/accounts/signup/", None),
    ("anonymous", "/accounts/login/", None),
    ("anonymous", "/accounts/password/reset/", None),
    ("anonymous", "/requests/new/", None),
    ("anonymous", "/privacy/cookies/", None),
    ("customer", "/account/", None),
    ("customer", "/account/addresses/new/", None),
    ("customer", "/requests/new/", None),
    ("customer", "/privacy/cookies/", None),
    ("customer", "/accounts/email/", None),
    ("compliance", "/dashboard/", None),
    ("compliance", "/dashboard/audit/", None),
    ("support", "/admin/dsr/datasubjectrequest/add/", None),
    ("support", "/admin/accounts/user/", None),
)
WATCHED = (
    "accounts.User",
    "accounts.Address",
    "dsr.DataSubjectRequest",
    "consent.ConsentEvent",
    "consent.ConsentSubject",
)
FIELD = re.compile(r"<(input|select|textarea)\b([^>]*)>", re.I)
ATTRIBUTE = re.compile(r'(\w[\w-]*)="([^"]*)"')


@pytest.fixture
def relaxed(settings: Any) -> None:
    """Rate limits high enough for the fuzzing (they are tested on their own)."""
    settings.DSR_INTAKE_RATE = "100000/h"
    settings.CONSENT_RATE_BANNER = "100000/m"
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture
def clients(customer: Any, relaxed: None) -> dict[str, Client]:
    AddressFactory(user=customer, is_default_shipping=True)
    return {
        "anonymous": Client(raise_request_exception=False),
        "customer": login(Client(raise_request_exception=False), customer),
        "compliance": login(
            Client(raise_request_exception=False),
            StaffFactory(group=COMPLIANCE_GROUP),
            mfa=True,
        ),
        "support": login(
            Client(raise_request_exception=False), StaffFactory(group=SUPPORT_GROUP), mfa=True
        ),
    }


def forms_on(client: Client, page: str) -> list[tuple[str, str, dict[str, str]]]:
    """Return (method, action, {field: default value}) of each form the page renders."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    text = response.content.decode()
    found = []
    for match in re.finditer(r"<form\b([^>]*)>(.*?)</form>", text, re.S | re.I):
        attributes = dict(ATTRIBUTE.findall(match.group(1)))
        fields: dict[str, str] = {}
        for kind, raw in FIELD.findall(match.group(2)):
            attrs = dict(ATTRIBUTE.findall(raw))
            name = attrs.get("name")
            if not name or name == "csrfmiddlewaretoken":
                continue
            if kind.lower() == "select":
                option = re.search(
                    rf'name="{re.escape(name)}"[^>]*>.*?<option[^>]*value="([^"]*)"',
                    match.group(2),
                    re.S,
                )
                fields[name] = option.group(1) if option else ""
            elif attrs.get("type") in ("checkbox", "radio"):
                fields.setdefault(name, attrs.get("value", "on"))
            else:
                fields.setdefault(name, html.unescape(attrs.get("value", "")))
        if fields:
            method = attributes.get("method", "get").lower()
            found.append((method, html.unescape(attributes.get("action") or page), fields))
    assert found, f"no form on {page}"
    return found


def counts() -> tuple[int, ...]:
    return tuple(apps.get_model(label)._default_manager.count() for label in WATCHED)


def check(response: Any, value: str, before: tuple[int, ...], where: str) -> list[str]:
    problems = []
    if response.status_code >= 500:
        problems.append(f"{where}: {response.status_code}")
    body = response.content.decode(errors="replace")
    if MARKUP in value and MARKUP in body:
        problems.append(f"{where}: the markup came back unescaped")
    refused = response.status_code >= 400 or (
        response.status_code == 200 and 'class="errorlist' in body
    )
    if refused and counts() != before:
        problems.append(f"{where}: refused, yet the database changed")
    return problems


def send(client: Client, method: str, action: str, data: dict[str, str]) -> Any:
    if method == "post":
        return client.post(action, data)
    return client.get(action, data)


@pytest.mark.parametrize(("who", "page", "_action"), FORMS, ids=[f"{w}{p}" for w, p, _ in FORMS])
def test_the_corpus_on_every_field(clients, who, page, _action):
    client = clients[who]
    problems = []
    tried = 0
    for method, action, fields in forms_on(client, page):
        for name in fields:
            for value in CORPUS:
                before = counts()
                response = send(client, method, action, {**fields, name: value})
                tried += 1
                problems += check(response, value, before, f"{who} {method} {action} {name}")
    assert tried, page
    print(f"{who} {page}: {tried} tried")
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/?q=' OR 1=1 --&sort=-due_at;DROP&page=-1&state=<x>",
        "/dashboard/?page=99999999999999999999&sort=__class__",
        "/dashboard/audit/?action=%00&object_id=1%20OR%201=1",
        "/admin/accounts/user/?q=%27%22%3E%3Cscript%3E&o=999",
        "/admin/dsr/datasubjectrequest/?state__exact=%00&o=-1.2",
        "/requests/../../etc/passwd",
        "/requests/DSR-2026-000001%00/",
        "/account/addresses/99999999999999999999/edit/",
    ],
)
def test_hostile_query_strings_and_paths(clients, path):
    for who in ("anonymous", "customer", "compliance", "support"):
        response = clients[who].get(path)
        assert response.status_code < 500, (who, path, response.status_code)
        assert "<script>" not in response.content.decode(errors="replace")


def test_invalid_utf8_a_huge_body_and_ten_thousand_fields(clients):
    client = clients["anonymous"]
    before = counts()
    raw = client.generic(
        "POST",
        "/requests/new/",
        b"type=access&email=\xff\xfe%ff@example.com&details=\xc3\x28",
        content_type="application/x-www-form-urlencoded",
    )
    assert raw.status_code < 500
    huge = client.post("/requests/new/", {"type": "access", "details": "x" * 10_000_000})
    assert huge.status_code in (400, 413)
    many = client.post("/requests/new/", {f"field{n}": "x" for n in range(10_000)})
    assert many.status_code == 400
    assert counts() == before


@given(
    value=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=300
    )
)
@hypothesis_settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_random_text_on_the_intake_form(relaxed, value):
    client = Client(raise_request_exception=False)
    before = counts()
    marked = f"ZQX{value}"
    response = client.post(
        "/requests/new/", {"type": "rectification", "email": marked, "details": marked}
    )
    assert response.status_code < 500
    if any(character in value for character in "<>\"'"):  # (& is escaped to &amp;...)
        assert marked not in response.content.decode()
    if response.status_code != 302:
        assert counts() == before
