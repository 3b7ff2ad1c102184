"""The OpenAPI schema, fuzzed with schemathesis: every operation, with valid (positive) and
invalid (negative) data, every check schemathesis has, a fixed seed.

The examples per operation are bounded for CI (``FUZZ_EXAMPLES``, 25 by default); by hand:
``FUZZ_EXAMPLES=500 make pytest PYTEST_ARGS=tests/security/test_hostile_api.py``.
Calls go to the portal in-process (WSGI), authenticated with a real token holding every scope,
so that the fuzzing reaches the views and not only the authentication.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import product
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.strategies import just
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection

from consent.models import ApiScope

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CLIENT_ADDRESS = {"REMOTE_ADDR": "203.0.113.7"}
# With invalid data, two checks are left out: the views ignore query parameters they do not
# know (as the web does), and the token is always sent (a call without it is the positive
# cases' ``ignored_auth`` check). Server errors, undocumented answers and answers that break
# their schema are still checked.
LENIENT = {GenerationMode.NEGATIVE: [negative_data_rejection]}


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
def token(api_client_factory, in_process) -> str:
    _client, secret = api_client_factory(*ApiScope.values, name="fuzzer")
    return str(secret)


@pytest.mark.django_db
def test_the_api_answers_every_generated_call_as_its_schema_says(token, settings):
    settings.CONSENT_SMS_WEBHOOK_SECRET = "a-configured-secret"
    # The schema as the portal serves it now (it names the catalogue's purposes).
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    failures: dict[str, str] = {}
    calls: dict[str, int] = {}
    for result, mode in product(schema.get_all_operations(), GenerationMode):
        operation = result.ok()
        label = f"{operation.label} ({mode.value})"
        calls[label] = 0

        @given(
            case=operation.as_strategy(mode),
            label=just(label),
            excluded=just(LENIENT.get(mode, [])),
        )
        @hypothesis_settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: Any, label: str, excluded: list[Any]) -> None:
            calls[label] += 1
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"},
                environ_overrides=CLIENT_ADDRESS,
                excluded_checks=excluded,
            )

        try:
            fuzz()
        except Exception as error:
            failures[label] = str(error)[:1500]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert len(calls) >= 16 and all(calls.values()), calls
    print(f"fuzzed {sum(calls.values())} calls: {calls}")
