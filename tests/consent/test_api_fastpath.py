"""Cached consent reads answered without the REST framework (consent/api/fastpath.py): the same
bytes and headers as the view, and every request the fast path cannot vouch for passed on to
the view, which answers as it always did."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from consent.api import fastpath
from consent.api.authentication import api_token_revoke
from consent.models import ApiToken
from tests.consent.conftest import record

pytestmark = pytest.mark.django_db


def _client(token: str, **headers: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}", **headers)


@pytest.fixture
def fast_answers():
    """What the fast path made of each read: True if it answered, False if it passed it on."""
    seen: list[bool] = []
    answer = fastpath.ConsentReadFastPath.answer

    def spy(self, request, customer_id):
        response = answer(self, request, customer_id)
        seen.append(response is not None)
        return response

    with mock.patch.object(fastpath.ConsentReadFastPath, "answer", spy):
        yield seen


def _comparable(response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k.lower() != "date"}
    return response.status_code, response.content, headers


def test_the_path_is_the_read_apis_url():
    url = reverse("consent_api:customer", kwargs={"customer_id": 123456789012345678})
    assert fastpath.PATH.fullmatch(url)
    assert not fastpath.PATH.fullmatch(url + "x")


def test_a_cached_read_is_answered_as_the_view_answers_it(
    api_client_factory, customer, other_customer, fast_answers
):
    record(customer, "marketing_sms", True)
    record(other_customer, "surveys", True)
    _c, token = api_client_factory("consent:read")
    url = f"/api/v1/consent/customers/{customer.pk}/"

    first = _client(token).get(url)  # the view answers and caches the token and the answer
    fast = _client(token).get(url)  # answered from the cache
    with override_settings(CONSENT_API_FAST_PATH=False):
        slow = _client(token).get(url)
    assert fast_answers == [False, True]

    assert _comparable(fast) == _comparable(slow) == _comparable(first)
    assert fast["Content-Type"] == "application/json"
    assert fast["X-Content-Type-Options"] == "nosniff"  # the other middleware ran
    purposes = {p["purpose"]: p for p in fast.json()["purposes"]}
    assert purposes["marketing_sms"]["granted"] and not purposes["surveys"]["granted"]
    # Accept: JSON or anything, as the view would negotiate it.
    assert _client(token, HTTP_ACCEPT="*/*").get(url).content == slow.content
    assert _client(token, HTTP_ACCEPT="application/json").get(url).content == slow.content
    assert fast_answers == [False, True, True, True]


def test_requests_it_cannot_vouch_for_go_to_the_view(
    api_client_factory, customer, other_customer, fast_answers
):
    _r, reader = api_client_factory("consent:read", name="reader")
    _w, writer = api_client_factory("consent:write", name="writer")
    url = f"/api/v1/consent/customers/{customer.pk}/"
    assert _client(reader).get(url).status_code == 200  # now cached

    def passed_on(response, status: int) -> None:
        assert response.status_code == status
        assert fast_answers[-1:] == [False], "passed on to the view"
        fast_answers.clear()

    forged = reader[:-4] + ("AAAA" if not reader.endswith("AAAA") else "BBBB")
    passed_on(_client(forged).get(url), 401)  # same prefix, cached entry, wrong secret
    passed_on(Client().get(url), 401)
    passed_on(_client("inper_" + "x" * 120).get(url), 401)
    passed_on(_client(writer).get(url), 403)
    passed_on(_client(writer).get(url), 403)  # the writer's entry is cached by now
    passed_on(_client(reader).get(url + "?fields=all"), 400)
    passed_on(_client(reader, HTTP_ACCEPT="text/html").get(url), 406)
    passed_on(_client(reader, HTTP_ACCEPT="application/json; indent=4").get(url), 200)
    other = f"/api/v1/consent/customers/{other_customer.pk}/"
    passed_on(_client(reader).get(other), 200)  # not cached yet
    assert _client(reader).get(other).status_code == 200
    assert fast_answers == [True]  # cached now

    record(customer, "surveys", True)  # the answer is stale at once
    response = _client(reader).get(url)
    passed_on(response, 200)
    assert {p["purpose"]: p for p in response.json()["purposes"]}["surveys"]["granted"]

    assert _client(reader).head(url).status_code == 200
    assert fast_answers == []  # a HEAD goes to the view untouched

    api_token_revoke(token=ApiToken.objects.get(client__name="reader"))
    passed_on(_client(reader).get(url), 401)


def test_with_redis_down_a_read_answers_503_on_either_path(api_client_factory, customer, settings):
    from tests.security.test_degradation import DEAD_REDIS

    _c, token = api_client_factory("consent:read")
    url = f"/api/v1/consent/customers/{customer.pk}/"
    assert _client(token).get(url).status_code == 200
    settings.CACHES = DEAD_REDIS
    for fast in (True, False):
        settings.CONSENT_API_FAST_PATH = fast
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", raise_request_exception=False)
        response = client.get(url)
        assert response.status_code == 503 and response["Retry-After"]
        assert customer.email not in response.content.decode()
