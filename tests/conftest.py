"""Shared fixtures: people in every role, signed-in clients, and the services under test.

The suite runs on the real PostgreSQL and Redis (``make test`` points at the machine's); under
``CI=true`` a missing service or browser fails the run instead of skipping tests.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from privacy_portal.permissions import COMPLIANCE_GROUP, SUPPORT_GROUP
from tests.factories import AddressFactory, StaffFactory, UserFactory

CI = os.environ.get("CI") == "true"


def require(condition: bool, reason: str) -> None:
    """Skip the test when ``condition`` is false, or fail under CI."""
    if condition:
        return
    if CI:
        pytest.fail(f"CI needs this: {reason}")
    pytest.skip(reason)


@pytest.fixture
def postgres() -> None:
    """For tests of PostgreSQL behaviour (triggers, row locks)."""
    require(
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql",
        "PostgreSQL is not configured (set DATABASE_URL)",
    )


@pytest.fixture
def redis_cache() -> None:
    """For tests that need the Redis cache (atomic rate limits)."""
    require(bool(settings.REDIS_URL), "Redis is not configured (set REDIS_URL)")


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    # Rate-limit counters and one-time-code markers must not leak between tests. The test
    # settings use a Redis database of their own.
    cache.clear()


@pytest.fixture
def customer(db: Any) -> User:
    return UserFactory(first_name="Alice", last_name="Customer")


@pytest.fixture
def other_customer(db: Any) -> User:
    user = UserFactory(first_name="Bob", last_name="Other")
    AddressFactory(user=user, is_default_shipping=True)
    return user


@pytest.fixture
def support_user(db: Any) -> User:
    return StaffFactory(group=SUPPORT_GROUP)


@pytest.fixture
def compliance_user(db: Any) -> User:
    return StaffFactory(group=COMPLIANCE_GROUP)


@pytest.fixture
def superuser(db: Any) -> User:
    return StaffFactory(is_superuser=True)


def login(
    client: Client, user: User, *, mfa: bool = False, reauthenticated: bool = False
) -> Client:
    """Sign ``user`` in on ``client`` as allauth would, optionally with a second factor used
    and a fresh re-authentication."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    now = time.time()
    records: list[dict[str, Any]] = [{"method": "password", "at": now, "email": user.email}]
    if mfa:
        records.append({"method": "mfa", "at": now, "type": "totp"})
    if reauthenticated:
        records.append({"method": "password", "at": now, "reauthenticated": True})
    session["account_authentication_methods"] = records
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


@pytest.fixture
def customer_client(customer: User) -> Client:
    return login(Client(), customer)


@pytest.fixture
def support_client(support_user: User) -> Client:
    return login(Client(), support_user, mfa=True)


@pytest.fixture
def compliance_client(compliance_user: User) -> Client:
    return login(Client(), compliance_user, mfa=True)


@pytest.fixture
def superuser_client(superuser: User) -> Client:
    return login(Client(), superuser, mfa=True)


@pytest.fixture
def celery_worker(transactional_db: Any, tmp_path: Any, postgres: None, redis_cache: None) -> Any:
    """A real Celery worker process on queues of its own, for this test only."""
    from tests.worker import WorkerProcess

    worker = WorkerProcess(tmp_path).start()
    yield worker
    worker.stop()
    from privacy_portal.celery import app

    app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    app.conf.task_routes = settings.CELERY_TASK_ROUTES
    from tests.worker import routes_reload

    routes_reload(app)


@pytest.fixture
def api_client_factory(db: Any):
    """Return a function making an API client with scopes and returning (client, token)."""
    from consent.api.authentication import api_token_issue
    from consent.models import ApiClient

    def make(*scopes: str, name: str = "shop"):
        client = ApiClient.objects.create(name=name, scopes=list(scopes))
        _row, token = api_token_issue(client=client)
        return client, token

    return make
