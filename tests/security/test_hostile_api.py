"""The OpenAPI schema, fuzzed with schemathesis: every operation, with valid (positive) and
invalid (negative) data, every check schemathesis has, a fixed seed (``derandomize``); and
deeply nested JSON sent to every endpoint that reads JSON.

The examples per operation and mode are bounded for CI (``FUZZ_EXAMPLES``, 25 by default); the
heavier run, by hand:
``FUZZ_EXAMPLES=300 make pytest PYTEST_ARGS=tests/security/test_hostile_api.py``.
Calls go to the portal in-process (WSGI), authenticated with a real token holding every scope,
so that the fuzzing reaches the views and not only the authentication. The SMS provider's
webhook is signed as the provider would sign it, and path parameters are, in about half the
examples, a customer and a request that exist, so that the answers with data are checked too.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from itertools import product
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from consent.models import ApiScope, ConsentEvent
from consent.signatures import signature_make
from dsr.models import Channel, DataSubjectRequest
from dsr.services import Intake, dsr_request_file
from tests.factories import UserFactory
from tests.security.hostile import fuzz_settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CLIENT_ADDRESS = {"REMOTE_ADDR": "203.0.113.7"}
SMS_SECRET = "a-configured-secret"
SMS_PATH = "/api/v1/consent/sms/inbound/"


@pytest.fixture
def in_process() -> Iterator[None]:
    """Keep the test's database connection across in-process calls (as Django's test client
    does): the handler closes old connections at the start and end of each request."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def fuzzer(api_client_factory) -> tuple[Any, str]:
    """An API client holding every scope, and its token."""
    client, secret = api_client_factory(*ApiScope.values, name="fuzzer")
    return client, str(secret)


@pytest.fixture
def token(fuzzer) -> str:
    return fuzzer[1]


def _real_path_parameters(api_client: Any) -> dict[str, str]:
    """A customer and a request (filed by the fuzzer's own client) that exist."""
    customer = UserFactory()
    filed = dsr_request_file(
        intake=Intake(type="access", email=customer.email, channel=Channel.API),
        actor=api_client,
    )
    return {"customer_id": str(customer.pk), "reference": filed.reference}


def _headers(case: Any, token: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if case.path == SMS_PATH and case.body is not None:
        # Signed exactly as the WSGI transport serialises the body.
        raw = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
        headers["X-Inper-SMS-Signature"] = signature_make(SMS_SECRET.encode(), raw)
    return headers


@pytest.mark.django_db
def test_the_api_answers_every_generated_call_as_its_schema_says(fuzzer, in_process, settings):
    settings.CONSENT_SMS_WEBHOOK_SECRET = SMS_SECRET
    api_client, token = fuzzer
    real = _real_path_parameters(api_client)
    # The schema as the portal serves it now (it names the catalogue's purposes).
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    failures: dict[str, str] = {}
    calls: Counter[str] = Counter()
    statuses: Counter[tuple[str, int]] = Counter()
    for result, mode in product(schema.get_all_operations(), GenerationMode):
        operation = result.ok()
        label = f"{operation.label} ({mode.value})"

        @given(
            case=operation.as_strategy(mode),
            existing=st.booleans(),
            label=st.just(label),
            positive=st.just(mode is GenerationMode.POSITIVE),
        )
        @fuzz_settings(EXAMPLES)
        def fuzz(case: Any, existing: bool, label: str, positive: bool) -> None:
            if existing and positive:
                for name in set(case.path_parameters or {}) & set(real):
                    case.path_parameters[name] = real[name]
            calls[label] += 1
            response = case.call_and_validate(
                headers=_headers(case, token), environ_overrides=CLIENT_ADDRESS
            )
            statuses[(label, response.status_code // 100)] += 1

        try:
            fuzz()
        except Exception as error:
            failures[label] = str(error)[:3000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert len(calls) >= 16 and all(calls.values()), calls
    # The fuzzing got past the token and the signature, to answers with data.
    answered = {label.split(" (")[0] for (label, kind), n in statuses.items() if kind == 2 and n}
    assert answered >= {
        "GET /api/v1/consent/customers/{customer_id}/",
        "GET /api/v1/requests/{reference}/",
        f"POST {SMS_PATH}",
        "POST /api/v1/consent/events/",
        "POST /api/v1/requests/",
    }, statuses
    print(f"schemathesis: {sum(calls.values())} calls, 0 failures: {dict(calls)}")


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


JSON_ENDPOINTS = (
    ("/api/v1/consent/lookup/", "token"),
    ("/api/v1/consent/events/", "token"),
    ("/api/v1/requests/", "token"),
    (SMS_PATH, "signature"),
    ("/privacy/banner/choice", "none"),
    ("/api/v1/stores/callback/", "none"),
)


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [100, 100_000])
@pytest.mark.parametrize("kind", ["array", "object"])
def test_deeply_nested_json_is_refused_everywhere(token, settings, depth, kind):
    settings.CONSENT_SMS_WEBHOOK_SECRET = SMS_SECRET
    body = _nested(depth, kind)
    events = ConsentEvent.objects.count()
    requests = DataSubjectRequest.objects.count()
    client = Client(raise_request_exception=False)
    answers = {}
    for path, proof in JSON_ENDPOINTS:
        extra: dict[str, Any] = dict(CLIENT_ADDRESS)
        if proof == "token":
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        elif proof == "signature":
            extra["HTTP_X_INPER_SMS_SIGNATURE"] = signature_make(SMS_SECRET.encode(), body)
        response = client.generic("POST", path, body, content_type="application/json", **extra)
        answers[path] = response.status_code
    assert all(400 <= status < 500 for status in answers.values()), answers
    assert ConsentEvent.objects.count() == events
    assert DataSubjectRequest.objects.count() == requests


@pytest.mark.django_db
def test_values_the_schema_does_not_allow_are_refused_not_converted(token):
    customer = UserFactory()
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}", **CLIENT_ADDRESS}
    for body in (
        {"customer_id": str(customer.pk), "purpose": "surveys", "granted": False},
        {"customer_id": customer.pk, "purpose": "surveys", "granted": "false"},
        {"customer_id": customer.pk, "purpose": "surveys", "granted": 0},
    ):
        response = client.post(
            "/api/v1/consent/events/", body, content_type="application/json", **auth
        )
        assert response.status_code == 400, body
    form = client.post(
        "/api/v1/consent/events/",
        {"customer_id": customer.pk, "purpose": "surveys"},
        **auth,
    )
    assert form.status_code == 415  # a form body would read a missing "granted" as false
    text = client.post(
        "/api/v1/requests/",
        {"type": "rectification", "email": customer.email, "details": 12345},
        content_type="application/json",
        **auth,
    )
    assert text.status_code == 400 and "details" in text.json()["errors"]
    # Purposes are kept with any request: only listed ones, whatever the type.
    purpose = client.post(
        "/api/v1/requests/",
        {"type": "access", "email": customer.email, "purposes": ["no_such_purpose"]},
        content_type="application/json",
        **auth,
    )
    assert purpose.status_code == 400
    unknown = client.get("/api/v1/consent/changes/?cursor=0&limt=10", **auth)
    assert unknown.status_code == 400 and unknown.json()["parameters"] == ["limt"]
    assert not ConsentEvent.objects.filter(subject__user=customer).exists()


@pytest.mark.django_db
def test_signatures_with_characters_outside_ascii_are_refused_not_a_server_error(settings):
    """A header's text may hold any Latin-1 character (the SMS provider's and the stores'
    signatures are compared as bytes: compare_digest refuses such a str)."""
    import time

    from dsr.connectors.http import signature_valid

    settings.CONSENT_SMS_WEBHOOK_SECRET = SMS_SECRET
    body = b'{"message_id":"m-1","from":"+15550000000","text":"STOP"}'
    response = Client(raise_request_exception=False).generic(
        "POST",
        SMS_PATH,
        body,
        content_type="application/json",
        HTTP_X_INPER_SMS_SIGNATURE=f"t={int(time.time())},v1=\xe9",
        **CLIENT_ADDRESS,
    )
    assert response.status_code == 401
    assert not ConsentEvent.objects.exists()
    assert signature_valid(["a-secret"], str(int(time.time())), b"{}", "v1=\xe9") is False
