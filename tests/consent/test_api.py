"""The consent API for Inper's other systems: scoped bearer tokens stored hashed, reads by
customer id or e-mail, recording events (idempotent), changes since a cursor, OpenAPI docs."""

from __future__ import annotations

import pytest
from django.test import Client

from consent.api.authentication import api_token_revoke, token_hash
from consent.models import ApiToken, ConsentEvent
from privacy_portal.audit.models import AuditEvent
from tests.consent.conftest import record

pytestmark = pytest.mark.django_db


def _client(token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_tokens_are_stored_only_as_hashes(api_client_factory):
    _client_row, token = api_client_factory("consent:read")
    row = ApiToken.objects.get()
    assert token not in (row.token_hash, row.prefix) and row.token_hash == token_hash(token)


def test_read_a_customers_current_consent(api_client_factory, customer, other_customer):
    record(customer, "marketing_sms", True)
    record(other_customer, "surveys", True)
    _c, token = api_client_factory("consent:read")

    body = _client(token).get(f"/api/v1/consent/customers/{customer.pk}/").json()

    purposes = {p["purpose"]: p for p in body["purposes"]}
    assert body["customer_id"] == customer.pk
    assert purposes["marketing_sms"]["granted"] and purposes["marketing_sms"]["source"] == "api"
    assert not purposes["surveys"]["granted"]  # the other customer's choice is absent
    assert purposes["marketing_post"]["status"] == "default" and purposes["orders"]["granted"]
    assert _client(token).get("/api/v1/consent/customers/999999/").status_code == 404


def test_lookup_by_email_keeps_the_address_out_of_the_url(api_client_factory, customer):
    record(customer, "personalisation", True)
    _c, token = api_client_factory("consent:read")
    api = _client(token)
    body = api.post(
        "/api/v1/consent/lookup/",
        {"email": customer.email.upper()},
        content_type="application/json",
    ).json()
    assert {p["purpose"]: p["granted"] for p in body["purposes"]}["personalisation"]
    unknown = api.post(
        "/api/v1/consent/lookup/", {"email": "nobody@example.com"}, content_type="application/json"
    ).json()
    assert unknown["subject_id"] is None
    assert (
        api.post("/api/v1/consent/lookup/", {}, content_type="application/json").status_code == 400
    )


def test_tokens_without_the_scope_or_revoked_or_forged_are_refused(api_client_factory, customer):
    _c, reader = api_client_factory("consent:read", name="reader")
    url = f"/api/v1/consent/customers/{customer.pk}/"
    assert (
        _client(reader)
        .post(
            "/api/v1/consent/events/",
            {"customer_id": customer.pk, "purpose": "surveys", "granted": True},
            content_type="application/json",
        )
        .status_code
        == 403
    )
    assert _client(reader[:-2] + "zz").get(url).status_code == 401
    assert Client().get(url).status_code in (401, 403)
    assert _client("not-a-token").get(url).status_code == 401
    assert _client(reader).get(url).status_code == 200
    api_token_revoke(token=ApiToken.objects.get())
    assert _client(reader).get(url).status_code == 401
    assert not ConsentEvent.objects.exists()


def test_record_an_event_is_idempotent_and_audited(api_client_factory, customer):
    client_row, token = api_client_factory("consent:write")
    api = _client(token)
    body = {"customer_id": customer.pk, "purpose": "marketing_phone", "granted": True}

    first = api.post(
        "/api/v1/consent/events/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = api.post(
        "/api/v1/consent/events/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    other = api.post(
        "/api/v1/consent/events/",
        {**body, "granted": False},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )

    assert first.status_code == 201 and again.status_code == 200 and other.status_code == 409
    assert first.json()["id"] == again.json()["id"]
    event = ConsentEvent.objects.get()
    assert (event.source, event.actor_type, event.actor_id) == ("api", "api", client_row.pk)
    audit = AuditEvent.objects.get(action="consent.recorded")
    assert audit.actor_type == "api" and audit.actor_id == client_row.pk


def test_recording_by_email_creates_a_hash_only_subject_and_unknown_purposes_fail(
    api_client_factory,
):
    _c, token = api_client_factory("consent:write")
    api = _client(token)
    ok = api.post(
        "/api/v1/consent/events/",
        {"email": "visitor@tradeshow.example", "purpose": "marketing_phone", "granted": True},
        content_type="application/json",
    )
    assert ok.status_code == 201 and ok.json()["customer_id"] is None
    bad = api.post(
        "/api/v1/consent/events/",
        {"email": "visitor@tradeshow.example", "purpose": "nope", "granted": True},
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["error"] == "unknown_purpose"
    assert ConsentEvent.objects.count() == 1


def test_email_marketing_via_the_api_needs_the_persons_confirmation(
    api_client_factory, customer, mailoutbox, django_capture_on_commit_callbacks
):
    _c, token = api_client_factory("consent:write")
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(token).post(
            "/api/v1/consent/events/",
            {"customer_id": customer.pk, "purpose": "marketing_email", "granted": True},
            content_type="application/json",
        )
    assert response.status_code == 202 and not ConsentEvent.objects.exists()
    assert mailoutbox[-1].to == [customer.email]


def test_changes_since_a_cursor(api_client_factory, customer):
    events = [record(customer, "surveys", granted) for granted in (True, False, True)]
    _c, token = api_client_factory("consent:changes")
    api = _client(token)

    page = api.get("/api/v1/consent/changes/?cursor=0&limit=2").json()
    assert [e["id"] for e in page["events"]] == [events[0].pk, events[1].pk] and page["has_more"]
    rest = api.get(f"/api/v1/consent/changes/?cursor={page['next_cursor']}").json()
    assert [e["id"] for e in rest["events"]] == [events[2].pk] and not rest["has_more"]
    assert rest["events"][0]["customer_id"] == customer.pk
    assert customer.email not in str(rest)
    assert api.get("/api/v1/consent/changes/?cursor=abc").status_code == 400


def test_openapi_schema_and_swagger_ui_served_without_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/consent/events/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert "<script>" not in docs and "<style" not in docs
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


@pytest.mark.parametrize("version", ["%0D%0AX-Injected:%201", "9" * 5000, "v2"])
def test_the_schema_ignores_a_version_it_does_not_have(client, version):
    schema = client.get(f"/api/schema/?version={version}")
    assert schema.status_code == 200 and b"/api/v1/consent/events/" in schema.content
    assert schema["Content-Disposition"] == 'inline; filename="Inper Privacy Portal API.yaml"'


def test_a_cached_read_follows_every_change(api_client_factory, customer, superuser):
    from consent import services

    _c, token = api_client_factory("consent:read")
    api = _client(token)
    url = f"/api/v1/consent/customers/{customer.pk}/"

    def surveys():
        return {p["purpose"]: p for p in api.get(url).json()["purposes"]}["surveys"]

    assert surveys()["status"] == "default"
    record(customer, "surveys", True)
    assert surveys()["status"] == "granted"
    services.purpose_text_update(
        purpose_id=ConsentEvent.objects.get().purpose_id,
        texts={"en": {"title": "Surveys", "description": "Changed."}},
        material=True,
        change_summary="",
        actor=superuser,
    )
    assert surveys()["status"] == "renew"
    services.consent_subject_pseudonymise(
        subject=services.subject_for_user(customer), actor=superuser
    )
    assert surveys()["status"] == "default"


def test_no_consent_is_recorded_for_a_closed_account(api_client_factory, customer):
    _c, token = api_client_factory("consent:write")
    type(customer).objects.filter(pk=customer.pk).update(is_active=False)
    response = _client(token).post(
        "/api/v1/consent/events/",
        {"customer_id": customer.pk, "purpose": "marketing_sms", "granted": True},
        content_type="application/json",
    )
    assert response.status_code == 409 and response.json()["error"] == "account_closed"
    assert not ConsentEvent.objects.exists()


def test_both_reads_of_an_account_that_chose_nothing_give_its_defaults(
    api_client_factory, customer
):
    _c, token = api_client_factory("consent:read")
    api = _client(token)
    read = api.get(f"/api/v1/consent/customers/{customer.pk}/")
    lookup = api.post(
        "/api/v1/consent/lookup/", {"customer_id": customer.pk}, content_type="application/json"
    )
    assert read.status_code == lookup.status_code == 200
    assert read.json()["purposes"] == lookup.json()["purposes"]
    missing = api.post(
        "/api/v1/consent/lookup/", {"customer_id": 99999999}, content_type="application/json"
    )
    assert missing.status_code == 404


def test_an_id_too_large_for_any_account_is_not_found(api_client_factory):
    _c, token = api_client_factory("consent:read")
    response = _client(token).get("/api/v1/consent/customers/99999999999999999999/")
    assert response.status_code == 404


def test_a_retried_double_opt_in_asks_the_person_once(
    api_client_factory, customer, mailoutbox, django_capture_on_commit_callbacks
):
    _c, token = api_client_factory("consent:write")
    grant = {"customer_id": customer.pk, "purpose": "marketing_email", "granted": True}
    answers = []
    for body in (grant, grant, {**grant, "granted": False}):
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(
                _client(token).post(
                    "/api/v1/consent/events/",
                    body,
                    content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY="grant-email-1",
                )
            )
    assert [answer.status_code for answer in answers] == [202, 202, 409]
    assert len([m for m in mailoutbox if m.to == [customer.email]]) == 1
    assert not ConsentEvent.objects.exists()


def test_an_idempotency_key_too_long_to_keep_is_refused(api_client_factory, customer):
    _c, token = api_client_factory("consent:write")
    response = _client(token).post(
        "/api/v1/consent/events/",
        {"customer_id": customer.pk, "purpose": "marketing_sms", "granted": True},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k" * 101,
    )
    assert response.status_code == 400 and response.json()["error"] == "idempotency_key_too_long"
    assert not ConsentEvent.objects.exists()


def test_a_confirmation_asked_for_by_a_system_is_in_the_persons_language(
    api_client_factory, mailoutbox, django_capture_on_commit_callbacks
):
    from tests.factories import UserFactory

    anna = UserFactory(email="anna@example.com", preferred_language="de")
    _c, token = api_client_factory("consent:write")
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(token).post(
            "/api/v1/consent/events/",
            {"customer_id": anna.pk, "purpose": "marketing_email", "granted": True},
            content_type="application/json",
        )
    assert response.status_code == 202
    (letter,) = [m for m in mailoutbox if m.to == [anna.email]]
    assert letter.subject.startswith("Bitte bestätigen"), letter.subject


def test_an_event_with_a_field_the_schema_does_not_have_is_refused(api_client_factory, customer):
    _c, token = api_client_factory("consent:write")
    response = _client(token).post(
        "/api/v1/consent/events/",
        {"customer_id": customer.pk, "purpose": "surveys", "granted": True, "langauge": "de"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "langauge" in str(response.json())
    assert not ConsentEvent.objects.exists()


def test_an_api_query_that_is_not_utf_8_is_refused_in_json(api_client_factory):
    _c, token = api_client_factory("consent:read")
    response = _client(token).get("/api/v1/consent/changes/?cursor=%FF")
    assert response.status_code == 400
    assert response.json()["error"] == "malformed"
