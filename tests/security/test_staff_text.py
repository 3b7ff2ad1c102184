"""What staff and other Inper systems type is checked as what customers type: a right-to-left
override or a control character in a name, a note or a reason e-mailed to the person is
refused at its field (it could disguise what the next reader sees), and nothing is written."""

from __future__ import annotations

import pytest
from django.test import Client

from consent.models import ConsentEvent
from dsr.models import DataSubjectRequest, RequestNote, State
from tests.dsr.helpers import file_request

pytestmark = pytest.mark.django_db

HIDDEN = ("\u202eevil", "bell\x07here")
REFUSED = "Please remove invisible or control characters from this field."


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("field", ["full_name", "details", "identity_note"])
def test_supports_request_form(support_client, field, hidden):
    form = {
        "type": "rectification",
        "channel": "phone",
        "email": "caller@example.com",
        "full_name": "Carl Caller",
        "details": "My street is misspelt.\nIt is Lindenstraße.",
        "identity_method": "staff_callback",
        "identity_note": "Called back the number on the last order",
    }
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/", {**form, field: f"x {hidden}"}
    )
    assert response.status_code == 200 and REFUSED in response.content.decode()
    assert not DataSubjectRequest.objects.exists()
    # Line breaks in the details are fine.
    assert support_client.post("/admin/dsr/datasubjectrequest/add/", form).status_code == 302


@pytest.mark.parametrize("hidden", HIDDEN)
def test_supports_recorded_choice(support_client, customer, hidden):
    response = support_client.post(
        "/admin/consent/consentstate/record/",
        {
            "email": customer.email,
            "purpose": "marketing_phone",
            "decision": "withdraw",
            "received_via": "phone",
            "note": f"call {hidden}",
        },
    )
    assert response.status_code == 200 and REFUSED in response.content.decode()
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("extend", {"extend-reason": "Archive move {}"}),
        ("reject", {"reject-reason": "other", "reject-note": "Because {}"}),
        ("notes", {"note-body": "Called {}"}),
        ("verify", {"verify-method": "staff_document", "verify-note": "Passport {}"}),
    ],
)
def test_officers_reasons_and_notes(compliance_client, customer, action, data, hidden):
    # An identity is checked while the person has not confirmed; the rest waits for approval.
    request = (
        file_request(type="erasure", email="guest@example.com", channel="portal_guest")
        if action == "verify"
        else file_request(type="erasure", user=customer)
    )
    data = {name: value.format(hidden) for name, value in data.items()}
    before = (request.state, request.due_at)
    response = compliance_client.post(f"/dashboard/requests/{request.reference}/{action}/", data)
    assert response.status_code == 400 and REFUSED in response.content.decode()
    request.refresh_from_db()
    assert (request.state, request.due_at) == before
    assert request.state in (State.IN_REVIEW, State.AWAITING_IDENTITY)
    assert not request.extended_at and not RequestNote.objects.exists()


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("field", ["full_name", "details"])
def test_the_api(api_client_factory, field, hidden):
    from consent.models import ApiScope

    _client, token = api_client_factory(ApiScope.REQUESTS_WRITE)
    response = Client().post(
        "/api/v1/requests/",
        {"type": "rectification", "email": "shop@example.com", "details": "x", field: hidden},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not DataSubjectRequest.objects.exists()


@pytest.mark.parametrize("mark", ["\u200f", "\u200e", "\u061c"])
def test_marks_of_writing_right_to_left_are_part_of_a_text(support_client, mark):
    """The right-to-left mark (and the left-to-right and Arabic letter marks) belong to
    writing in Arabic and Hebrew: a name and details holding them are taken as written."""
    written = f"{mark}مرحبا{mark} (Lindenstraße 5)"
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {
            "type": "rectification",
            "channel": "phone",
            "email": "caller@example.com",
            "full_name": f"سارة{mark} Haddad",
            "details": written,
            "identity_method": "staff_callback",
            "identity_note": "Called back the number on the last order",
        },
    )
    assert response.status_code == 302
    filed = DataSubjectRequest.objects.get()
    assert filed.details == written and filed.full_name == f"سارة{mark} Haddad"
