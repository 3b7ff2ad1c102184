"""When Redis or PostgreSQL is down, people get a friendly 503 (never a traceback), nothing is
half-written, and /readyz names what is down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from consent.models import ConsentEvent, ConsentState, Purpose
from dsr.models import DataSubjectRequest
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


@pytest.fixture
def redis_down(settings):
    settings.CACHES = DEAD_REDIS


def _friendly_503(response) -> None:
    assert response.status_code == 503
    body = response.content.decode()
    assert "briefly unavailable" in body and "Traceback" not in body
    assert response["Retry-After"]


def test_login_with_redis_down_answers_a_friendly_503(customer, redis_down):
    client = Client(raise_request_exception=False)
    _friendly_503(client.post("/accounts/login/", {"login": customer.email, "password": PASSWORD}))


def test_request_intake_with_redis_down_answers_503_and_writes_nothing(redis_down):
    client = Client(raise_request_exception=False)
    _friendly_503(client.post("/requests/new/", {"type": "access", "email": "x@example.com"}))
    assert not DataSubjectRequest.objects.exists()


def test_consent_changes_with_redis_down_answer_503_and_record_nothing(customer, settings):
    withdraw = Purpose.objects.filter(kind="marketing", always_on=False).values_list(
        "key", flat=True
    )[0]
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(customer)
    visitor = Client(raise_request_exception=False)
    settings.CACHES = DEAD_REDIS
    _friendly_503(signed_in.post(f"/privacy/choices/{withdraw}/", {"granted": "off"}))
    _friendly_503(signed_in.post("/privacy/choices/stop-all-marketing/"))
    _friendly_503(
        visitor.post(
            "/privacy/banner/choice",
            data='{"choices": {"analytics": false, "marketing": false}}',
            content_type="application/json",
        )
    )
    _friendly_503(visitor.post("/privacy/cookies/", {"analytics": "on"}))
    assert not ConsentEvent.objects.exists() and not ConsentState.objects.exists()


def test_readyz_names_the_cache_when_redis_is_down(redis_down):
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "unavailable"


def _run_with_dead_database(code: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "privacy_portal.settings.test",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_with_postgresql_down_actions_answer_503_and_readyz_says_which():
    result = _run_with_dead_database(
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "c = Client(raise_request_exception=False, HTTP_HOST='localhost')\n"
        "r = c.post('/accounts/login/', {'login': 'a@example.com', 'password': 'x'})\n"
        "print('login', r.status_code, 'briefly unavailable' in r.content.decode())\n"
        "r = c.post('/requests/new/', {'type': 'access', 'email': 'a@example.com'})\n"
        "print('intake', r.status_code, 'briefly unavailable' in r.content.decode())\n"
        "r = c.post('/privacy/cookies/', {'analytics': 'on'})\n"
        "print('cookies', r.status_code, 'briefly unavailable' in r.content.decode())\n"
        "r = c.post('/privacy/banner/choice', data='{\"choices\": {\"analytics\": true}}',"
        " content_type='application/json')\n"
        "print('banner', r.status_code, 'briefly unavailable' in r.content.decode())\n"
        "r = c.get('/readyz')\n"
        "print('readyz', r.status_code, r.json()['checks']['database'])\n"
    )
    assert result.stdout.splitlines() == [
        "login 503 True",
        "intake 503 True",
        "cookies 503 True",
        "banner 503 True",
        "readyz 503 unavailable",
    ], result.stdout + result.stderr[-2000:]
