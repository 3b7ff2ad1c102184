"""The two busiest consent endpoints, made cheap without weakening what they promise: the API
read answers from the shared cache yet never keeps an answer or a token past a change, and the
banner save is one short transaction that loses nothing under concurrency.

(How fast they are is measured in bench/, with the figures in docs/benchmarks.md.)
"""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from consent import selectors, services
from consent.api import authentication
from consent.api.authentication import api_token_revoke
from consent.catalogue import CACHE_KEY, GENERATION_KEY
from consent.models import (
    ApiClient,
    ApiToken,
    ConsentEvent,
    ConsentState,
    ConsentSubject,
    Purpose,
    PurposeVersion,
)
from tests.consent.conftest import at_once, record

pytestmark = pytest.mark.django_db


def _api(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _status(api: Client, customer_id: int, key: str) -> str:
    body = api.get(f"/api/v1/consent/customers/{customer_id}/").json()
    return {p["purpose"]: p["status"] for p in body["purposes"]}[key]


# --- the consent read API -----------------------------------------------------------------------


def test_a_read_that_raced_a_change_never_keeps_the_old_answer(
    api_client_factory, customer, monkeypatch
):
    _c, token = api_client_factory("consent:read")
    api = _api(token)
    read = selectors.consent_current_for_customer

    def read_then_change(customer_id, **kwargs):
        answer = read(customer_id, **kwargs)  # the reader has the old state...
        record(customer, "surveys", True)  # ...when the person's change lands
        return answer

    monkeypatch.setattr(selectors, "consent_current_for_customer", read_then_change)
    assert _status(api, customer.pk, "surveys") == "default"  # read before the change
    monkeypatch.undo()

    assert _status(api, customer.pk, "surveys") == "granted"
    assert _status(api, customer.pk, "surveys") == "granted"  # and from the cache


def test_a_read_after_a_change_sees_it_at_once(api_client_factory, customer):
    _c, token = api_client_factory("consent:read")
    api = _api(token)
    assert _status(api, customer.pk, "marketing_sms") == "default"  # now cached
    for granted, status in ((True, "granted"), (False, "withdrawn"), (True, "granted")):
        record(customer, "marketing_sms", granted)
        assert _status(api, customer.pk, "marketing_sms") == status


def test_a_token_revoked_while_it_was_being_checked_is_refused_next_time(
    api_client_factory, customer, monkeypatch
):
    _c, token = api_client_factory("consent:read")
    api = _api(token)
    url = f"/api/v1/consent/customers/{customer.pk}/"
    read = authentication._token_row

    def read_then_revoke(prefix):
        row = read(prefix)  # the token was valid when it was read...
        api_token_revoke(token=ApiToken.objects.get())  # ...and is revoked before it is cached
        return row

    monkeypatch.setattr(authentication, "_token_row", read_then_revoke)
    assert api.get(url).status_code == 200
    monkeypatch.undo()

    assert api.get(url).status_code == 401
    assert api.get(url).status_code == 401


def test_a_token_is_refused_at_once_when_its_client_is_switched_off_or_deleted(
    api_client_factory, customer, superuser_client
):
    _c, token = api_client_factory("consent:read")
    api = _api(token)
    url = f"/api/v1/consent/customers/{customer.pk}/"
    client = ApiClient.objects.get()
    assert api.get(url).status_code == 200  # the token is cached now

    change = f"/admin/consent/apiclient/{client.pk}/change/"
    form = {"name": client.name, "scopes": ["consent:read"], "is_active": ""}
    form.update({f"tokens-{k}": v for k, v in {"TOTAL_FORMS": 1, "INITIAL_FORMS": 1}.items()})
    assert superuser_client.post(change, form).status_code == 302
    assert api.get(url).status_code == 401

    ApiClient.objects.filter(pk=client.pk).update(is_active=True)
    authentication.api_client_forget(client)
    assert api.get(url).status_code == 200  # cached again
    delete = f"/admin/consent/apiclient/{client.pk}/delete/"
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 302
    assert not ApiToken.objects.exists()
    assert api.get(url).status_code == 401


def test_the_api_shows_a_grant_waiting_for_confirmation_before_any_other_choice(
    api_client_factory, customer
):
    # A customer who ticked the newsletter at sign-up and has not confirmed it yet: the API says
    # so, as the preference centre does, though nothing is in the ledger.
    services.consent_signup_opt_in(user=customer)
    _c, token = api_client_factory("consent:read")

    body = _api(token).get(f"/api/v1/consent/customers/{customer.pk}/").json()

    email = {p["purpose"]: p for p in body["purposes"]}["marketing_email"]
    assert email["status"] == "pending" and not email["granted"]
    assert body["subject_id"] == services.subject_for_user(customer).pk
    page = {c.key: c.status for c in selectors.consent_current(services.subject_of_user(customer))}
    assert page["marketing_email"] == "pending"


def test_an_api_read_costs_two_queries_and_none_once_cached(
    api_client_factory, customer, other_customer, django_assert_num_queries
):
    """The account's choices in one statement, its suppressed channels in another."""
    record(customer, "surveys", True)
    _c, token = api_client_factory("consent:read")
    api = _api(token)
    api.get(f"/api/v1/consent/customers/{other_customer.pk}/")  # the token and the catalogue

    with django_assert_num_queries(2):
        assert _status(api, customer.pk, "surveys") == "granted"
    with django_assert_num_queries(0):
        assert _status(api, customer.pk, "surveys") == "granted"
    with django_assert_num_queries(1):
        assert api.get("/api/v1/consent/customers/999999/").status_code == 404


# --- the banner save ----------------------------------------------------------------------------


def _save(visitor: uuid.UUID | None, gpc: bool = False, **choices: bool) -> dict:
    body = {"choices": choices, "policy_version": 1, "language": "en"}
    if visitor is not None:
        body["visitor_id"] = str(visitor)
    headers = {"Sec-GPC": "1"} if gpc else {}
    response = Client(headers=headers).post(
        "/privacy/banner/choice", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_banner_save_is_one_short_transaction(django_assert_max_num_queries):
    _save(None, preferences=True)  # the catalogue is cached now
    visitor = uuid.uuid4()

    # BEGIN, the new visitor (inserted, so locked), its events with their state, COMMIT.
    with django_assert_max_num_queries(4):
        answer = _save(visitor, preferences=True, analytics=False, marketing=False)

    assert answer["visitor_id"] == str(visitor)
    subject = ConsentSubject.objects.get(visitor_id=visitor)
    assert ConsentEvent.objects.filter(subject=subject).count() == 3
    states = ConsentState.objects.filter(subject=subject).values_list("purpose__key", "granted")
    assert dict(states) == {"preferences": True, "analytics": False, "marketing": False}

    with django_assert_max_num_queries(5):  # the same visitor again: found, then locked
        _save(visitor, preferences=False, analytics=True, marketing=False)
    assert ConsentSubject.objects.filter(visitor_id=visitor).count() == 1
    assert ConsentEvent.objects.filter(subject=subject).count() == 6
    assert set(
        ConsentState.objects.filter(subject=subject, granted=True).values_list(
            "purpose__key", flat=True
        )
    ) == {"analytics"}


@pytest.mark.django_db(transaction=True)
def test_banner_saves_racing_for_one_new_visitor_both_land(postgres):
    visitor = uuid.uuid4()
    answers: list[dict] = []

    def save(n: int) -> None:
        answers.append(_save(visitor, preferences=True, analytics=n % 2 == 0, marketing=False))

    errors = at_once(save, 4)

    assert not errors and len(answers) == 4
    assert {answer["visitor_id"] for answer in answers} == {str(visitor)}
    subject = ConsentSubject.objects.get(visitor_id=visitor)
    assert ConsentEvent.objects.filter(subject=subject).count() == 12
    assert ConsentState.objects.filter(subject=subject).count() == 3
    last = ConsentEvent.objects.filter(subject=subject, purpose__key="analytics").latest("id")
    assert ConsentState.objects.get(subject=subject, purpose__key="analytics").event_id == last.pk


def _ledger_rows(subject: ConsentSubject) -> tuple[list[tuple], list[tuple]]:
    event_fields = [
        f.name for f in ConsentEvent._meta.concrete_fields if f.name not in ("id", "subject")
    ]
    events = list(
        ConsentEvent.objects.filter(subject=subject).order_by("id").values_list(*event_fields)
    )
    states = list(
        ConsentState.objects.filter(subject=subject)
        .order_by("purpose_id")
        .values_list("purpose_id", "purpose_version_id", "granted", "source", "updated_at")
    )
    latest = dict(
        ConsentEvent.objects.filter(subject=subject)
        .order_by("purpose_id", "-id")
        .distinct("purpose_id")
        .values_list("purpose_id", "id")
    )
    for state in ConsentState.objects.filter(subject=subject):
        assert state.event_id == latest[state.purpose_id]  # the state points to the last event
    return events, states


def test_the_ledger_written_in_one_statement_equals_the_orms(monkeypatch):
    """On PostgreSQL a banner save's visitor, events and states are written by SQL of our own;
    elsewhere (SQLite in development) by the ORM. Both write the same rows, including a second
    choice that updates the current state."""
    from django.db import connection

    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    sql_visitor, orm_visitor = uuid.uuid4(), uuid.uuid4()
    for visitor in (sql_visitor, orm_visitor):
        with monkeypatch.context() as patch:
            if visitor == orm_visitor:
                patch.setattr(connection, "vendor", "sqlite")
            _save(visitor, preferences=True, analytics=False, marketing=True)
            # The browser's privacy signal turns marketing off: a new source for its state.
            _save(visitor, gpc=True, preferences=False, analytics=True, marketing=True)

    sql_subject = ConsentSubject.objects.get(visitor_id=sql_visitor)
    orm_subject = ConsentSubject.objects.get(visitor_id=orm_visitor)
    assert sql_subject.created_at == orm_subject.created_at == now
    sql_rows, orm_rows = _ledger_rows(sql_subject), _ledger_rows(orm_subject)
    services._ledger_write([])  # nothing to write is no statement, not an error
    assert len(sql_rows[0]) == 6 and len(sql_rows[1]) == 3
    assert ("marketing", False, "gpc") in ConsentState.objects.filter(
        subject=sql_subject
    ).values_list("purpose__key", "granted", "source")
    assert sql_rows == orm_rows


# --- the catalogue ------------------------------------------------------------------------------


def test_a_catalogue_change_made_by_another_process_shows_on_the_next_request():
    assert _save(None, analytics=True)["granted"]  # this process holds the catalogue now
    purpose = Purpose.objects.get(key="analytics")
    newer = PurposeVersion.objects.create(
        purpose=purpose,
        version=purpose.current_version.version + 1,
        texts=purpose.current_version.texts,
        material=False,
    )
    Purpose.objects.filter(pk=purpose.pk).update(current_version=newer)
    cache.delete_many([CACHE_KEY, GENERATION_KEY])  # what the other process's change does

    visitor = uuid.UUID(_save(None, analytics=True)["visitor_id"])

    event = ConsentEvent.objects.get(subject__visitor_id=visitor, purpose=purpose)
    assert event.purpose_version_id == newer.pk


def test_the_catalogue_rebuilt_unchanged_keeps_the_cached_answers(
    api_client_factory, customer, superuser
):
    _c, token = api_client_factory("consent:read")
    api = _api(token)
    record(customer, "surveys", True)
    assert _status(api, customer.pk, "surveys") == "granted"  # cached
    before = cache.get(GENERATION_KEY)

    cache.delete_many([CACHE_KEY, GENERATION_KEY])  # the snapshot expired
    assert _status(api, customer.pk, "surveys") == "granted"
    assert cache.get(GENERATION_KEY) == before  # same content, same generation

    services.purpose_text_update(
        purpose_id=Purpose.objects.get(key="surveys").pk,
        texts={"en": {"title": "Surveys", "description": "Changed."}},
        material=True,
        change_summary="",
        actor=superuser,
    )
    assert _status(api, customer.pk, "surveys") == "renew"
    assert cache.get(GENERATION_KEY) != before
