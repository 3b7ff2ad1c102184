"""Shared by the security tests: the production module's security settings, a world of real
objects for every path parameter, the people who ask, and the figures the tests print at the
end of the run (``N tried, M failures``, quoted in docs/security.md)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from cryptography.fernet import Fernet
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Address, User
from consent import services as consent
from consent import tokens
from consent.models import (
    ApiClient,
    ApiScope,
    PolicyDocument,
    PolicyVersion,
    SuppressionEntry,
    WebhookDelivery,
    WebhookSubscription,
)
from dsr import notifications
from dsr.dashboard.services import dsr_request_note_add
from dsr.models import DataSubjectRequest, ErasureRecord, RequestNote, State, StoreTask
from dsr.services import dsr_request_approve, dsr_request_verify_manually
from privacy_portal.permissions import COMPLIANCE_GROUP, SUPPORT_GROUP
from tests.conftest import login
from tests.dsr.helpers import add_store, file_request, run_pending_tasks
from tests.factories import PASSWORD, AddressFactory, StaffFactory, UserFactory

# --- production settings ------------------------------------------------------------------------

# Throwaway values for what production refuses to start without.
PRODUCTION_ENVIRONMENT = {
    "SECRET_KEY": "security-tests-" + "k7Qm2xV9pL" * 5,
    "ALLOWED_HOSTS": "testserver",
    "PORTAL_HASH_KEY": "security-tests-hash-key-0123456789abcdef",
    "EMAIL_URL": "smtp://localhost:25",
}
# Production must name its services: where the tests' own are not named in the environment,
# these stand for them (Celery reads its broker from the environment, so one named there stays).
PRODUCTION_SERVICES = {
    "DATABASE_URL": "postgres://portal@db.invalid:5432/portal",
    "CELERY_BROKER_URL": "redis://redis.invalid:6379/1",
}
# Settings the production module sets differently from the test settings, kept as the tests
# have them (each with why). Every other difference is applied, so a security setting added to
# production later is tested without a change here.
KEPT_FROM_TESTS = {
    "SECRET_KEY": "a throwaway key either way; production refuses a weak one at start-up",
    "PORTAL_HASH_KEY": "a throwaway key either way",
    "PORTAL_ENCRYPTION_KEYS": "a throwaway key either way",
    "EMAIL_BACKEND": "the tests read the in-memory outbox",
    "DATABASES": "the tests' own database",
    "CELERY_BROKER_URL": "the tests' own broker",
    "PASSWORD_HASHERS": "a fast hasher for test accounts (not a header or cookie matter)",
    "STORAGES": "the manifest storage of static files needs collectstatic; static files are "
    "served by WhiteNoise, not by the views walked here",
    "DSR_CONNECTORS": "the test-only connectors the world below uses",
    "DSR_RECONCILE_SECONDS": "worker timing",
    "DSR_RETRY_BASE_SECONDS": "worker timing",
    "DSR_TASK_LEASE_SECONDS": "worker timing",
}
_MISSING = object()


def production_settings(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Return every setting of ``privacy_portal.settings.production`` that differs from the
    test settings, except those in ``KEPT_FROM_TESTS``."""
    for name, value in PRODUCTION_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name, value in PRODUCTION_SERVICES.items():
        if not os.environ.get(name):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("PORTAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    # The address the tests' links are made with (the test client's host is not it either).
    tests_module = importlib.import_module("privacy_portal.settings.test")
    monkeypatch.setenv("PORTAL_BASE_URL", tests_module.PORTAL_BASE_URL)
    sys.modules.pop("privacy_portal.settings.production", None)
    try:
        module = importlib.import_module("privacy_portal.settings.production")
    finally:
        sys.modules.pop("privacy_portal.settings.production", None)
    tests = importlib.import_module("privacy_portal.settings.test")
    return {
        name: getattr(module, name)
        for name in dir(module)
        if name.isupper()
        and not name.startswith("_")
        and name not in KEPT_FROM_TESTS
        and getattr(tests, name, _MISSING) != getattr(module, name)
    }


@pytest.fixture
def production(settings: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Apply the production module's own settings (see ``production_settings``); requests say
    ``X-Forwarded-Proto: https``, as the TLS proxy in front of production does."""
    applied = production_settings(monkeypatch)
    for name, value in applied.items():
        setattr(settings, name, value)
    assert settings.SESSION_COOKIE_NAME == "__Host-sessionid"
    assert settings.SECURE_SSL_REDIRECT and settings.SECURE_HSTS_SECONDS
    return applied


# --- the world: real objects for every path parameter --------------------------------------------

OWNER_LINE = "1 Owner Road"  # customer A's address: no one else may ever see it
MANUAL = "dsr.connectors.manual.ManualConnector"


@dataclass
class World:
    customer: User  # A: owns what follows
    other: User  # B
    unverified: User  # signed up, never confirmed the address
    address: Address
    erasure: DataSubjectRequest  # A's, waiting for an officer
    access_done: DataSubjectRequest  # A's, completed, its package ready
    restriction_done: DataSubjectRequest  # A's, completed: processing restricted
    portability: DataSubjectRequest  # A's, one store failed, one step waits for staff
    failed_task: StoreTask
    manual_task: StoreTask
    guest_done: DataSubjectRequest  # a guest's, completed, its package ready
    guest_link: str  # the signed status link's token of that guest
    guest_pending: DataSubjectRequest  # a guest's, waiting for the e-mail link
    verify_token: str
    unsubscribe_token: str  # A's marketing_sms
    confirm_token: str  # A's double opt-in of marketing_email
    notice: PolicyVersion  # a material change of the privacy statement
    api_client: ApiClient
    api_token: str
    api_request: DataSubjectRequest  # filed by that client
    subscription: WebhookSubscription
    note: RequestNote
    erasure_record: ErasureRecord


def build_world(customer: User, other: User, officer: User, settings: Any, tmp: Any) -> World:
    """Make one of everything a URL can name, owned by ``customer`` where it can be."""
    settings.MEDIA_ROOT = tmp / "media"
    settings.DSR_STORAGE_DIR = tmp / "dsr"
    unverified = UserFactory(email="not.verified@example.com", verified=False)
    address = AddressFactory(user=customer, line1=OWNER_LINE)
    access_done = run_pending_tasks(file_request(type="access", user=customer))
    assert access_done.state == State.COMPLETED, access_done.state
    restriction_done = run_pending_tasks(
        dsr_request_approve(request=file_request(type="restriction", user=customer), actor=officer)
    )
    assert restriction_done.state == State.COMPLETED, restriction_done.state

    guest = file_request(type="access", email="guest.done@example.com", channel="portal_guest")
    guest = dsr_request_verify_manually(
        request=guest, actor=officer, method="staff_callback", note="Called back"
    )
    guest_done = run_pending_tasks(dsr_request_approve(request=guest, actor=officer))
    assert guest_done.state == State.COMPLETED, guest_done.state
    guest_pending = file_request(
        type="access", email="guest.pending@example.com", channel="portal_guest"
    )
    assert guest_pending.state == State.AWAITING_IDENTITY

    # From here on, requests meet a store that fails and one that waits for staff.
    add_store(
        "flaky", "tests.dsr.connectors.FlakyConnector", config={"fail_times": 1, "permanent": True}
    )
    add_store(
        "payments",
        MANUAL,
        name="Payment provider",
        config={
            "actions": ["export", "erase"],
            "assigned_group": COMPLIANCE_GROUP,
            "instructions": {"export": "Export the profile.", "erase": "Delete the profile."},
        },
    )
    portability = run_pending_tasks(file_request(type="portability", user=customer))
    failed_task = portability.tasks.get(store__key="flaky")
    failed_task.evidence.save("evidence.txt", ContentFile(b"proof"), save=True)
    manual_task = portability.tasks.get(store__key="payments")
    assert manual_task.waiting_for == "manual", manual_task.state

    erasure = file_request(type="erasure", user=customer)
    assert erasure.state == State.IN_REVIEW
    note = dsr_request_note_add(request=erasure, actor=officer, body="Checked the order history.")

    subject = consent.subject_for_user(customer)
    consent.consent_record(
        subject=subject,
        purpose_key="marketing_sms",
        granted=True,
        source="preference_centre",
        actor=customer,
    )
    pending = consent.consent_request_confirmation(
        subject=subject, purpose_key="marketing_email", source="preference_centre"
    )
    notice = consent.policy_publish(
        document=PolicyDocument.PRIVACY_STATEMENT,
        body="# Privacy statement\n\nA material change.",
        material=True,
        summary={"en": "What changed."},
        actor=officer,
    )

    api_client, api_token = _api_client()
    api_request = file_request(
        type="access",
        email="api.person@example.com",
        channel="api",
        actor=api_client,
        identity_method="staff_document",
        identity_note="Checked by the shop",
    )
    subscription = WebhookSubscription.objects.create(
        client=api_client, url="https://crm.inper.example/hooks/consent", secret_encrypted=b"x"
    )
    WebhookDelivery.objects.create(subscription=subscription, event_ids=[1])
    SuppressionEntry.objects.create(
        channel="email",
        address_hash=consent.suppression_hash("email", "gone@example.com"),
        reason="unsubscribe",
    )
    erasure_record = ErasureRecord.objects.create(
        reference="DSR-ERASED-1", created_at=timezone.now(), signature="0" * 64
    )
    return World(
        customer=customer,
        other=other,
        unverified=unverified,
        address=address,
        erasure=erasure,
        access_done=access_done,
        restriction_done=restriction_done,
        portability=portability,
        failed_task=failed_task,
        manual_task=manual_task,
        guest_done=guest_done,
        guest_link=notifications.status_token(guest_done),
        guest_pending=guest_pending,
        verify_token=notifications.verification_token(guest_pending),
        unsubscribe_token=tokens.token_make(
            kind=tokens.UNSUBSCRIBE, subject_id=subject.pk, purpose_key="marketing_sms"
        ),
        confirm_token=tokens.token_make(
            kind=tokens.CONFIRM,
            subject_id=subject.pk,
            purpose_key="marketing_email",
            pending_id=pending.pk,
        ),
        notice=notice,
        api_client=api_client,
        api_token=api_token,
        api_request=api_request,
        subscription=subscription,
        note=note,
        erasure_record=erasure_record,
    )


def _api_client() -> tuple[ApiClient, str]:
    from consent.api.authentication import api_token_issue

    client = ApiClient.objects.create(name="Shop", scopes=list(ApiScope.values))
    _row, token = api_token_issue(client=client)
    return client, token


@pytest.fixture
def world(
    customer: User, other_customer: User, compliance_user: User, settings: Any, tmp_path: Any
) -> World:
    return build_world(customer, other_customer, compliance_user, settings, tmp_path)


# --- the people who ask ---------------------------------------------------------------------------

PRINCIPALS = (
    "anonymous",
    "customer_a",  # owns the world's objects; re-authenticated a moment ago
    "customer_b",
    "unverified",  # signed up, never confirmed the address: sign-in stops there
    "deactivated",  # a session from before the account was deactivated
    "mid_login",  # a support agent who gave the right password, not yet the second factor
    "staff_no_mfa",  # a compliance officer whose session has not used the second factor
    "support",
    "compliance",
    "superuser",
    "api",  # one of Inper's systems, with a token holding every scope
)
STAFF = ("support", "compliance", "superuser")


@pytest.fixture
def people(
    world: World,
    customer: User,
    other_customer: User,
    support_user: User,
    compliance_user: User,
    superuser: User,
) -> dict[str, Client]:
    """A client per principal (see ``PRINCIPALS``)."""
    RecoveryCodes.activate(superuser)
    clients = {"anonymous": Client(raise_request_exception=False)}
    clients["customer_a"] = login(
        Client(raise_request_exception=False), customer, reauthenticated=True
    )
    clients["customer_b"] = login(Client(raise_request_exception=False), other_customer)
    attempt = Client(raise_request_exception=False)
    attempt.post(
        "/accounts/login/", {"login": world.unverified.email, "password": PASSWORD}, secure=True
    )
    assert "_auth_user_id" not in attempt.session
    clients["unverified"] = attempt
    deactivated = UserFactory(email="deactivated@example.com")
    clients["deactivated"] = login(Client(raise_request_exception=False), deactivated)
    User.objects.filter(pk=deactivated.pk).update(is_active=False)
    halfway = Client(raise_request_exception=False)
    response = halfway.post(
        "/accounts/login/",
        {"login": StaffFactory(group=SUPPORT_GROUP).email, "password": PASSWORD},
        secure=True,
    )
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    clients["mid_login"] = halfway
    clients["staff_no_mfa"] = login(
        Client(raise_request_exception=False), StaffFactory(group=COMPLIANCE_GROUP)
    )
    clients["support"] = login(Client(raise_request_exception=False), support_user, mfa=True)
    clients["compliance"] = login(Client(raise_request_exception=False), compliance_user, mfa=True)
    clients["superuser"] = login(
        Client(raise_request_exception=False), superuser, mfa=True, reauthenticated=True
    )
    clients["api"] = Client(
        raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {world.api_token}"
    )
    assert support_user.groups.filter(name=SUPPORT_GROUP).exists()
    return clients


@contextmanager
def queries_of() -> Iterator[CaptureQueriesContext]:
    """Capture the queries of the block (the connection's log is emptied first: it keeps only
    the last 9,000, and a full log would hide new ones)."""
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as captured:
        yield captured


@contextmanager
def isolated(client: Client) -> Iterator[None]:
    """Run what the block does in a savepoint that is rolled back, and give ``client`` its
    cookies back: every request of a walk meets the same world and the same sessions (a link
    to someone else's e-mail confirmation, for one, signs the visitor out)."""
    cookies = deepcopy(client.cookies)
    try:
        with transaction.atomic():
            yield
            transaction.set_rollback(True)
    finally:
        client.cookies = cookies


@pytest.fixture
def unrecorded_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the test client's copy of every template context (the walks never read them, and
    the copies cost more than the pages)."""
    monkeypatch.setattr("django.test.client.store_rendered_templates", lambda *a, **k: None)


# --- figures --------------------------------------------------------------------------------------

_FIGURES: list[str] = []


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Any:
    """Return ``record(what, tried, failures)``: a line of the run's security figures."""

    def record(what: str, tried: int, failures: int) -> None:
        _FIGURES.append(f"{request.node.name}: {what}: {tried:,} tried, {failures} failures")

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("security figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
