"""The request API: other Inper systems file and follow requests, never skipping the identity
check, and see only the requests they filed."""

from __future__ import annotations

import pytest
from django.test import Client

from consent.models import ApiScope
from dsr.models import DataSubjectRequest, State
from privacy_portal.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
URL = "/api/v1/requests/"


def _post(token, data):
    return Client().post(
        URL, data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def _get(token, reference):
    return Client().get(f"{URL}{reference}/", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_system_files_a_request_and_the_person_still_confirms_by_email(api_client_factory):
    client, token = api_client_factory(ApiScope.REQUESTS_WRITE, ApiScope.REQUESTS_READ)
    response = _post(
        token, {"type": "erasure", "email": "Shop.Customer@Example.com", "order_number": "A-1000"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    created = DataSubjectRequest.objects.get(reference=body["reference"])
    assert created.state == State.AWAITING_IDENTITY and created.channel == "api"
    assert created.api_client == client and created.email == "shop.customer@example.com"
    assert created.snapshot()["order_numbers"] == ["A-1000"]
    received = AuditEvent.objects.get(action="dsr.request.received", object_id=str(created.pk))
    assert (received.actor_type, received.actor_id) == ("api", client.pk)
    assert _get(token, created.reference).json()["state"] == "awaiting_identity"


def test_a_system_that_checked_identity_says_how(api_client_factory):
    _client, token = api_client_factory(ApiScope.REQUESTS_WRITE)
    response = _post(
        token,
        {"type": "access", "email": "caller@example.com", "identity_method": "staff_callback"},
    )
    assert response.status_code == 400 and "identity" in response.content.decode()
    response = _post(
        token,
        {
            "type": "access",
            "email": "caller@example.com",
            "identity_method": "staff_callback",
            "identity_note": "Called back the number on the account",
        },
    )
    assert response.status_code == 201
    assert response.json()["state"] in ("running", "completed")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "teleport", "email": "a@example.com"}, "type"),
        ({"type": "access", "email": "not-an-email"}, "email"),
        (
            {"type": "objection", "email": "a@example.com", "purposes": ["selling_kidneys"]},
            "request",
        ),
        (
            {
                "type": "access",
                "email": "a@example.com",
                "identity_method": "session_reauth",
                "identity_note": "trust me",
            },
            "identity_method",
        ),
        ({"type": "access", "email": "a@example.com", "details": "x" * 5001}, "details"),
        # A name is one line, as in the portal's own forms.
        (
            {"type": "access", "email": "a@example.com", "full_name": "A\r\nBcc: b@x.com"},
            "full_name",
        ),
    ],
)
def test_bad_input_gets_a_400_naming_the_field_and_files_nothing(api_client_factory, data, field):
    _client, token = api_client_factory(ApiScope.REQUESTS_WRITE)
    response = _post(token, data)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not DataSubjectRequest.objects.exists()


def test_scopes_and_tokens_are_enforced(api_client_factory):
    _reader, read_only = api_client_factory(ApiScope.REQUESTS_READ, name="reader")
    assert _post(read_only, {"type": "access", "email": "a@example.com"}).status_code == 403
    assert (
        _post("inper_nope_forged", {"type": "access", "email": "a@example.com"}).status_code == 401
    )
    assert Client().post(URL, {}, content_type="application/json").status_code in (401, 403)
    assert not DataSubjectRequest.objects.exists()


def test_a_system_sees_only_the_requests_it_filed(api_client_factory, customer):
    from tests.dsr.helpers import file_request

    _shop, shop_token = api_client_factory(ApiScope.REQUESTS_WRITE, ApiScope.REQUESTS_READ)
    _other, other_token = api_client_factory(ApiScope.REQUESTS_READ, name="newsletter")
    filed = _post(shop_token, {"type": "access", "email": "x@example.com"}).json()["reference"]
    portal = file_request(type="erasure", user=customer)
    assert _get(other_token, filed).status_code == 404
    assert _get(shop_token, portal.reference).status_code == 404
    assert _get(shop_token, filed).status_code == 200


def test_unknown_fields_and_countries_are_refused_not_ignored(api_client_factory):
    """A misspelt optional field would otherwise be dropped without a word (the person's
    language, say), and a country that does not exist would choose the deadline's rules."""
    _client, token = api_client_factory(ApiScope.REQUESTS_WRITE)
    misspelt = _post(token, {"type": "access", "email": "a@example.com", "langauge": "de"})
    assert misspelt.status_code == 400 and "langauge" in misspelt.json()["errors"]
    for country in ("ZZ", "éé", "gb"):
        refused = _post(token, {"type": "access", "email": "a@example.com", "country": country})
        assert refused.status_code == 400 and "country" in refused.json()["errors"]
    assert not DataSubjectRequest.objects.exists()
    filed = _post(token, {"type": "access", "email": "a@example.com", "country": "GB"})
    assert filed.status_code == 201
    assert DataSubjectRequest.objects.get().country == "GB"


def test_the_answer_does_not_tell_whether_inper_knows_the_address(api_client_factory):
    """The deadline follows the country of the person's account (45 days for a Californian
    one), so until the person confirms, a system that files for an address it merely has
    learns nothing from the answer: the same for an unknown address as for a customer's."""
    from dsr.services import dsr_request_verify_email
    from tests.factories import UserFactory

    californian = UserFactory(country="US")
    _client, token = api_client_factory(ApiScope.REQUESTS_WRITE, ApiScope.REQUESTS_READ)
    answers = []
    for email in (californian.email, "nobody-at-inper@example.com"):
        body = _post(
            token, {"type": "restriction", "email": email, "details": "Pending my complaint"}
        ).json()
        reference = body.pop("reference")
        body.pop("received_at")
        followed = _get(token, reference).json()
        followed.pop("reference"), followed.pop("received_at")
        assert followed == body
        answers.append(body)
    assert answers[0] == answers[1]
    assert answers[0]["due_at"] is None and answers[0]["state"] == "awaiting_identity"

    filed = DataSubjectRequest.objects.get(email=californian.email)
    dsr_request_verify_email(request_id=filed.pk, nonce=filed.verification_nonce)
    filed.refresh_from_db()
    assert filed.regime == "ccpa"
    assert _get(token, filed.reference).json()["due_at"] == filed.due_at.isoformat().replace(
        "+00:00", "Z"
    )


def test_a_request_whose_identity_the_system_checked_shows_its_deadline(api_client_factory):
    _client, token = api_client_factory(ApiScope.REQUESTS_WRITE)
    body = _post(
        token,
        {
            "type": "rectification",
            "email": "caller@example.com",
            "details": "My surname is spelt Meyer",
            "identity_method": "staff_callback",
            "identity_note": "Called back the number on the account",
        },
    ).json()
    filed = DataSubjectRequest.objects.get(reference=body["reference"])
    assert body["due_at"] is not None and filed.identity_proven
