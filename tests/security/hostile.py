"""What the hostile-input tests share: the corpus, the people and objects every form needs, the
forms themselves (found on their pages), and the checks on every answer.

Every submission runs in a savepoint that is rolled back afterwards, with the client's cookies
restored, so that each one meets the same world (an accepted "close my account" does not sign
the next submission out, an accepted rejection does not leave the request rejected). Inside
the savepoint, a refused submission must leave every table as it was.
"""

from __future__ import annotations

import copy
import hashlib
import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import hypothesis
from django.contrib.messages import constants as message_levels
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client

from accounts.models import User
from consent import services as consent_services
from consent import tokens
from consent.marketing import unsubscribe_url
from dsr.models import DataSubjectRequest, State, StoreTask, TaskState
from dsr.notifications import status_token, verification_token
from dsr.services import dsr_request_approve, dsr_request_verify_email, dsr_request_verify_manually
from privacy_portal.permissions import COMPLIANCE_GROUP, SUPPORT_GROUP
from tests.conftest import login
from tests.dsr.helpers import add_store, file_request, run_pending_tasks
from tests.factories import PASSWORD, AddressFactory, StaffFactory, UserFactory

#: Values every field and every query parameter gets, by name.
CORPUS: dict[str, str] = {
    "sql": "' OR '1'='1' --",
    "sql union": "1 UNION SELECT password FROM accounts_user--",
    "sql stacked": "'; DROP TABLE accounts_user; --",
    "xss": '<script>alert("x")</script>',
    "xss attribute": '"><img src=x onerror=alert(1)>',
    "javascript url": "javascript:alert(1)",
    "path traversal": "../../../../etc/passwd",
    "encoded traversal": "..%2f..%2f..%2fetc%2fpasswd",
    "nul": "a\x00b",
    "right-to-left override": "\u202egnp.exe",
    "zero-width": "zero\u200bwidth\u200d\ufeff",
    "template and format": "{{7*7}}${7*7}%s%n{0}",
    "emoji": "\U0001f600" * 300,
    "100,000 characters": "A" * 100_000,
    "huge number": "-99999999999999999999",
    # Python refuses to convert numbers of more than 4,300 digits (ValueError).
    "5,000 digits": "9" * 5000,
    "empty": "",
}
#: Markup that must never come back as it was sent.
MARKUP = ('<script>alert("x")</script>', '"><img src=x onerror=alert(1)>')
#: Characters that an escaped reflection changes (so a raw copy of a value holding one of
#: them, in an HTML page, is a value that came back unescaped).
ESCAPED = frozenset("<>\"'&")

#: Tables a refused submission may still write: the session (its last-activity time).
UNWATCHED_TABLES = frozenset({"accounts_session"})

#: Valid values by field name (the part after a form prefix such as ``reject-``), so that a
#: hostile value in one field meets valid values in the others and reaches the services.
VALID: dict[str, str] = {
    "email": "fuzz.person@example.com",
    "login": "alice.fuzz@example.com",
    "password": PASSWORD,
    "password1": "a-Long-and-new-passphrase-2026",
    "password2": "a-Long-and-new-passphrase-2026",
    "oldpassword": PASSWORD,
    "confirm_adult": "on",
    "full_name": "Fuzz Person",
    "first_name": "Alice",
    "last_name": "Fuzz",
    "phone": "+49 30 1234567",
    "country": "DE",
    "preferred_language": "en",
    "label": "Home",
    "recipient": "Alice Fuzz",
    "line1": "1 Fuzz Street",
    "postal_code": "10115",
    "city": "Berlin",
    "details": "My surname is misspelt: it is Fuzz.",
    "understood": "on",
    # No order number: the guest's request then waits for an officer (one that matches no
    # order is refused, for the guest to correct: tests/dsr/test_views.py).
    "order_number": "",
    "code": "12345678",
    "term": "DSR-2026-000001",
    "note": "Called back the number on the last order.",
    "reason": "The stores of the carrier answer slowly this month.",
    "body": "Spoke to the person on the phone.",
    "identity_method": "staff_callback",
    # The officer's identity check starts with nothing chosen.
    "method": "staff_callback",
    "identity_note": "Called back the number on the last order.",
    "action": "save",
    "granted": "off",
    "decision": "withdraw",
    "received_via": "phone",
    "purpose": "marketing_email",
    "channel": "phone",
    "type": "access",
    "language": "en",
    "next": "/",
}


def valid_value(name: str, default: str) -> str:
    """Return a valid value for the field ``name`` (or the page's own default)."""
    return VALID.get(name, VALID.get(name.rsplit("-", 1)[-1], default))


class World:
    """The people and objects the forms need, made when a scene first asks for them."""

    @cached_property
    def customer(self) -> User:
        user = UserFactory(email="alice.fuzz@example.com", first_name="Alice", last_name="Fuzz")
        AddressFactory(user=user, is_default_shipping=True)
        return user

    @cached_property
    def officer(self) -> User:
        return StaffFactory(group=COMPLIANCE_GROUP)

    @cached_property
    def support(self) -> User:
        return StaffFactory(group=SUPPORT_GROUP)

    def client(self, who: str) -> Client:
        """A client signed in as ``who`` (staff with their second factor, customers freshly
        re-authenticated so that sensitive forms are reached), checked for CSRF tokens as a
        browser's requests are (the token is read from each form)."""
        client = Client(raise_request_exception=False, enforce_csrf_checks=True)
        self.customer  # noqa: B018 (made first: the sign-in form signs her in)
        if who == "customer":
            return login(client, self.customer, reauthenticated=True)
        if who == "compliance":
            return login(client, self.officer, mfa=True)
        if who == "support":
            return login(client, self.support, mfa=True)
        return client

    @cached_property
    def address(self) -> int:
        return int(self.customer.addresses.get().pk)

    @cached_property
    def guest_awaiting(self) -> DataSubjectRequest:
        return file_request(type="access", email="guest.fuzz@example.com", channel="portal_guest")

    @cached_property
    def guest_held(self) -> DataSubjectRequest:
        """A guest's request whose order number matched nothing: an officer checks by hand."""
        pending = file_request(
            type="erasure", email="held.fuzz@example.com", channel="portal_guest"
        )
        return dsr_request_verify_email(
            request_id=pending.pk, nonce=pending.verification_nonce, order_number="X-1"
        )

    @cached_property
    def guest_download(self) -> DataSubjectRequest:
        """A guest's access request, done, with its package waiting for the download code."""
        request = file_request(type="access", email="code.fuzz@example.com", channel="portal_guest")
        request = dsr_request_verify_manually(
            request=request, actor=None, method="staff_callback", note="Called back"
        )
        request = run_pending_tasks(dsr_request_approve(request=request, actor=None))
        assert request.state == State.COMPLETED
        return request

    @cached_property
    def download_page(self) -> str:
        """The guest's download page, a code having been sent (``VALID["code"]``)."""
        self.send_download_code()
        request = self.guest_download
        return f"/requests/{request.reference}/download/code/?t={status_token(request)}"

    def send_download_code(self) -> None:
        """Give the guest's download the code ``VALID["code"]``, unused (the cache is not rolled
        back with the database: a fuzzed "send me a code" replaces it)."""
        request = self.guest_download
        cache.set_many(
            {
                f"dsr-download-code-{request.pk}": {
                    "hash": hashlib.sha256(VALID["code"].encode()).hexdigest()
                },
                f"dsr-download-code-attempts-{request.pk}": 0,
            },
            600,
        )

    @cached_property
    def erasure(self) -> DataSubjectRequest:
        """The customer's erasure, waiting for an officer's decision."""
        request = file_request(type="erasure", user=self.customer)
        assert request.state == State.IN_REVIEW
        return request

    @cached_property
    def restriction_done(self) -> DataSubjectRequest:
        """The customer's restriction, carried out: an officer may lift it."""
        request = file_request(type="restriction", user=self.customer)
        request = run_pending_tasks(dsr_request_approve(request=request, actor=None))
        assert request.state == State.COMPLETED
        return request

    @cached_property
    def manual_step(self) -> StoreTask:
        """A step staff complete by hand, for an access request of someone else."""
        add_store(
            "payment-provider",
            "dsr.connectors.manual.ManualConnector",
            config={
                "actions": ["export"],
                "assigned_group": COMPLIANCE_GROUP,
                "instructions": {"export": "Export the profile as CSV."},
            },
        )
        person = UserFactory(email="manual.fuzz@example.com")
        request = run_pending_tasks(file_request(type="access", user=person))
        return request.tasks.get(waiting_for="manual", state=TaskState.WAITING)

    @cached_property
    def unsubscribe_token(self) -> str:
        subject = consent_services.subject_for_user(self.customer)
        consent_services.consent_record(
            subject=subject, purpose_key="marketing_email", granted=True, source="api", actor=None
        )
        return unsubscribe_url(subject=subject, purpose_key="marketing_email")[1]

    @cached_property
    def confirm_token(self) -> str:
        subject = consent_services.subject_for_user(self.customer)
        pending = consent_services.consent_request_confirmation(
            subject=subject, purpose_key="marketing_email", source="preference_centre"
        )
        return tokens.token_make(
            kind=tokens.CONFIRM,
            subject_id=subject.pk,
            purpose_key="marketing_email",
            pending_id=pending.pk,
        )


@dataclass(frozen=True)
class Scene:
    """A page with one or more forms, seen by ``who``."""

    name: str
    who: str
    page: Callable[[World], str]
    #: Only forms whose action matches (all forms of the page otherwise).
    only: str = ""
    #: Fields the page does not render but the view reads (e.g. RFC 8058's one-click field).
    extra: dict[str, str] = field(default_factory=dict)
    #: What to set up again before each submission (state that is not rolled back).
    prepare: Callable[[World], None] = lambda world: None


def _fixed(path: str) -> Callable[[World], str]:
    return lambda world: path


SCENES: tuple[Scene, ...] = (
    Scene("sign-up", "anonymous", _fixed("/accounts/signup/"), only="signup"),
    Scene("sign-in", "anonymous", _fixed("/accounts/login/"), only="login"),
    Scene("password reset", "anonymous", _fixed("/accounts/password/reset/"), only="reset"),
    Scene("guest request", "anonymous", _fixed("/requests/new/"), only="requests"),
    Scene("cookie choices (visitor)", "anonymous", _fixed("/privacy/cookies/"), only="cookies"),
    Scene("language", "anonymous", _fixed("/privacy/statement/"), only="language"),
    Scene(
        "verification",
        "anonymous",
        lambda w: f"/requests/verify/{verification_token(w.guest_awaiting)}/",
        only="verify",
    ),
    Scene(
        "download code",
        "anonymous",
        lambda w: w.download_page,
        only="download",
        prepare=World.send_download_code,
    ),
    Scene(
        "unsubscribe",
        "anonymous",
        lambda w: f"/unsubscribe/{w.unsubscribe_token}/",
        only="unsubscribe",
        extra={"List-Unsubscribe": "One-Click"},
    ),
    Scene(
        "double opt-in",
        "anonymous",
        lambda w: f"/privacy/confirm/{w.confirm_token}/",
        only="confirm",
    ),
    Scene("profile", "customer", _fixed("/account/"), only="^/account/$"),
    Scene("new address", "customer", _fixed("/account/addresses/new/"), only="addresses"),
    Scene(
        "address",
        "customer",
        lambda w: f"/account/addresses/{w.address}/edit/",
        only="addresses",
    ),
    Scene("close account", "customer", _fixed("/account/close/"), only="close"),
    Scene("preference centre", "customer", _fixed("/privacy/"), only="choices"),
    Scene("cookie choices (customer)", "customer", _fixed("/privacy/cookies/"), only="cookies"),
    Scene("customer request", "customer", _fixed("/requests/new/"), only="requests"),
    Scene("e-mail addresses", "customer", _fixed("/accounts/email/"), only="email"),
    Scene("password change", "customer", _fixed("/accounts/password/change/"), only="password"),
    Scene("dashboard queue", "compliance", _fixed("/dashboard/"), only="^/dashboard/(search/)?$"),
    Scene(
        "dashboard: reject, extend, note",
        "compliance",
        lambda w: f"/dashboard/requests/{w.erasure.reference}/",
        only="reject|extend|notes|assign",
    ),
    Scene(
        "dashboard: identity check",
        "compliance",
        lambda w: f"/dashboard/requests/{w.guest_held.reference}/",
        only="verify",
    ),
    Scene(
        "dashboard: lift a restriction",
        "compliance",
        lambda w: f"/dashboard/requests/{w.restriction_done.reference}/",
        only="lift-restriction",
    ),
    Scene(
        "dashboard: manual step",
        "compliance",
        lambda w: f"/dashboard/requests/{w.manual_step.request.reference}/",
        only="tasks",
    ),
    Scene("dashboard audit", "compliance", _fixed("/dashboard/audit/"), only="audit/$"),
    Scene("dashboard metrics", "compliance", _fixed("/dashboard/metrics/"), only="metrics/$"),
    Scene("dashboard yearly", "compliance", _fixed("/dashboard/metrics/yearly/"), only="yearly/$"),
    Scene(
        "admin: record a request",
        "support",
        _fixed("/admin/dsr/datasubjectrequest/add/"),
        only="add/$",
    ),
    Scene(
        "admin: record an opt-out",
        "support",
        _fixed("/admin/consent/consentstate/record/"),
        only="record/$",
    ),
    Scene("admin: customer search", "support", _fixed("/admin/accounts/user/"), only="user/$"),
    Scene(
        "admin: manual step",
        "compliance",
        lambda w: f"/admin/dsr/manualstep/{w.manual_step.pk}/change/",
        only="change/$",
    ),
)

FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
FIELD = re.compile(r"<(input|select|textarea|button)\b([^>]*)>", re.I)
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')


@dataclass
class Form:
    method: str
    action: str
    #: The fields to fuzz, with the page's defaults.
    fields: dict[str, str]
    files: frozenset[str] = frozenset()
    #: Fields whose value the page offers as a choice (a select, radio or checkbox).
    choices: frozenset[str] = frozenset()
    #: The CSRF token the page put in the form (sent with every submission, never fuzzed).
    csrf: str = ""

    def valid(self) -> dict[str, str]:
        """The page's defaults with a valid value for every field, and the CSRF token."""
        valid = {
            name: (value if name in self.choices and value else valid_value(name, value))
            for name, value in self.fields.items()
            if name not in self.files
        }
        return {"csrfmiddlewaretoken": self.csrf, **valid} if self.csrf else valid


def forms_on(client: Client, page: str, only: str = "") -> list[Form]:
    """Return each form ``page`` renders (with its fields), optionally those whose action
    matches ``only``; identical forms (the same fields, such as one switch per purpose) once."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    found: dict[tuple[str, tuple[str, ...]], Form] = {}
    for match in FORM.finditer(response.content.decode()):
        attributes = dict(ATTRIBUTE.findall(match.group(1)))
        action = html.unescape(attributes.get("action", "")) or urlsplit(page).path
        if only and not re.search(only, action):
            continue
        fields: dict[str, str] = {}
        files: set[str] = set()
        choices: set[str] = set()
        csrf = ""
        for kind, raw in FIELD.findall(match.group(2)):
            attrs = dict(ATTRIBUTE.findall(raw))
            name = html.unescape(attrs.get("name", ""))
            if name == "csrfmiddlewaretoken":
                csrf = attrs.get("value", "")
            if not name or name == "csrfmiddlewaretoken":
                continue
            kind = kind.lower()
            if kind == "select":
                # The first option that is a choice (not "Choose…"), as a person picks one.
                options = re.search(
                    rf'name="{re.escape(name)}"[^>]*>(.*?)</select>', match.group(2), re.S
                )
                values = re.findall(
                    r'<option[^>]*value="([^"]*)"', options.group(1) if options else ""
                )
                fields[name] = html.unescape(next((value for value in values if value), ""))
                choices.add(name)
            elif kind == "button" or attrs.get("type") in ("checkbox", "radio"):
                fields.setdefault(name, html.unescape(attrs.get("value", "on")))
                choices.add(name)
            elif attrs.get("type") == "file":
                fields[name] = ""
                files.add(name)
            elif attrs.get("type") == "submit":
                continue
            else:
                fields.setdefault(name, html.unescape(attrs.get("value", "")))
        method = attributes.get("method", "get").lower()
        key = (method, tuple(sorted(fields)))
        if key not in found:
            # A form without an action posts to the page itself, query string included.
            target = html.unescape(attributes.get("action", "")) or page
            found[key] = Form(method, target, fields, frozenset(files), frozenset(choices), csrf)
    return list(found.values())


def fingerprint() -> tuple[tuple[str, int, int], ...]:
    """Every table's row count and a hash of its rows (a refused input must change neither)."""
    tables = [
        name for name in connection.introspection.table_names() if name not in UNWATCHED_TABLES
    ]
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT '{name}', count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) "  # noqa: S608
        f"FROM {quote(name)} t"
        for name in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(sorted((row[0], int(row[1]), int(row[2])) for row in cursor.fetchall()))


def changed_tables(before: tuple[Any, ...], after: tuple[Any, ...]) -> list[str]:
    return sorted({row[0] for row in set(before) ^ set(after)})


@contextmanager
def rolled_back(client: Client) -> Iterator[None]:
    """Run the block in a savepoint that is rolled back, and give ``client`` its cookies back."""
    saved = copy.deepcopy(client.cookies)
    try:
        with transaction.atomic():
            yield
            transaction.set_rollback(True)
    finally:
        client.cookies = saved


def refused(response: Any) -> bool:
    """Return whether the answer refuses the input (an error status, a form shown again with
    its errors, or an error message on the way back)."""
    if response.status_code >= 400:
        return True
    queued = getattr(getattr(response.wsgi_request, "_messages", None), "_queued_messages", [])
    if any(message.level >= message_levels.ERROR for message in queued):
        return True
    if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
        return 'class="errorlist' in response.content.decode(errors="replace")
    return False


def reflected(response: Any, values: list[str]) -> list[str]:
    """Return the values that an HTML answer holds unescaped."""
    if not response.get("Content-Type", "").startswith("text/html"):
        return []
    body = response.content.decode(errors="replace")
    found = [markup for markup in MARKUP if markup in body]
    found += [
        value for value in values if len(value) > 3 and ESCAPED & set(value) and value in body
    ]
    return found


def submit(
    client: Client,
    form: Form,
    data: dict[str, Any],
    *,
    hostile: list[str],
    where: str,
    remote_addr: str = "203.0.113.9",
) -> list[str]:
    """Send ``data`` through ``form`` (in a rolled-back savepoint) and return what went wrong:
    a server error, an unescaped reflection (also on the page a redirect leads to), or a
    refused input that changed the database."""
    problems: list[str] = []
    with rolled_back(client):
        before = fingerprint()
        send = client.post if form.method == "post" else client.get
        response = send(form.action, data, REMOTE_ADDR=remote_addr)
        if response.status_code >= 500:
            problems.append(f"{where}: answered {response.status_code}")
        problems += [
            f"{where}: {value[:40]!r} came back unescaped" for value in reflected(response, hostile)
        ]
        was_refused = refused(response)
        changed = changed_tables(before, fingerprint())
        if (was_refused or form.method == "get") and changed:
            problems.append(f"{where}: refused ({response.status_code}), yet {changed} changed")
        target = response.get("Location", "") if response.status_code in (301, 302, 303) else ""
        # The page a redirect leads to shows messages about the input: read it when the input
        # could come back unescaped there.
        escapable = any(ESCAPED & set(value) for value in hostile)
        if escapable and target.startswith("/") and not target.startswith("//"):
            landed = client.get(target, REMOTE_ADDR=remote_addr)
            if landed.status_code >= 500:
                problems.append(f"{where}: the page after it answered {landed.status_code}")
            problems += [
                f"{where}: {value[:40]!r} came back unescaped after the redirect"
                for value in reflected(landed, hostile)
            ]
    return problems


def fuzz_settings(examples: int) -> hypothesis.settings:
    """Hypothesis's settings for the fuzzing: ``examples`` per run, a fixed seed, no deadline
    (the machine is shared), no example database (every run is the same)."""
    return hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        database=None,
    )


def hostile_file(value: str) -> SimpleUploadedFile:
    """An upload whose name is the hostile value."""
    name = value[:200].replace("\x00", "") or "empty"
    return SimpleUploadedFile(name, b"%PDF-1.4 hostile evidence\n", "application/pdf")


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
