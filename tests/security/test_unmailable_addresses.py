"""Addresses that Django's validator accepts but no e-mail can be sent to (a replacement
character from a form sent in another encoding, a domain label too long once encoded) are
refused wherever an address comes in, with the form's message and nothing saved: before, sign-up
answered 500 after creating the account, and staff and API intake reported success while every
e-mail to the person failed."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from accounts.models import User
from consent.models import ApiScope, ConsentEvent, PendingConfirmation
from dsr.models import DataSubjectRequest
from tests.conftest import login

pytestmark = pytest.mark.django_db


def _post(client, url, data):
    """POST ``data`` as a browser sends a form without files (URL-encoded, UTF-8)."""
    return client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded")


def _sign_up(client, address):
    return _post(
        client,
        "/accounts/signup/",
        {
            "email": address,
            "password1": "a-long-and-unusual-passphrase",
            "password2": "a-long-and-unusual-passphrase",
            "confirm_adult": "on",
        },
    )


UNMAILABLE = (
    "x@\ufffd.com",
    "rev@" + "ä" * 60 + ".com",
    "m\ufffdller@example.com",
    # Mail would go elsewhere than the address stored: an ideographic full stop is a dot to
    # IDNA, and a label that is not valid punycode.
    "rc1@a\u3002example.com",
    "x@xn--a.com",
)
INVALID = "Enter a valid email address."


@pytest.fixture(autouse=True)
def _no_limits(settings):
    settings.RATELIMIT_ENABLE = False
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.mark.parametrize("address", UNMAILABLE)
def test_sign_up_password_reset_and_adding_an_address_refuse_it(client, customer, address):
    signup = _sign_up(client, address)
    assert signup.status_code == 200 and INVALID in signup.content.decode()
    assert not User.objects.filter(email=address).exists()
    assert not EmailAddress.objects.filter(email=address).exists()

    reset = _post(Client(), "/accounts/password/reset/", {"email": address})
    assert reset.status_code == 200 and INVALID in reset.content.decode()

    signed_in = login(Client(), customer, reauthenticated=True)
    added = _post(signed_in, "/accounts/email/", {"action_add": "", "email": address})
    assert added.status_code == 200 and INVALID in added.content.decode()
    assert list(EmailAddress.objects.filter(user=customer).values_list("email", flat=True)) == [
        customer.email
    ]
    assert mail.outbox == []


@pytest.mark.parametrize("address", UNMAILABLE)
def test_staff_and_api_intake_refuse_it(support_client, api_client_factory, address):
    recorded = _post(
        support_client,
        "/admin/dsr/datasubjectrequest/add/",
        {"type": "access", "channel": "phone", "email": address, "full_name": "Carl"},
    )
    assert recorded.status_code == 200 and INVALID in recorded.content.decode()
    choice = _post(
        support_client,
        "/admin/consent/consentstate/record/",
        {"email": address, "purpose": "marketing_email", "decision": "grant"},
    )
    assert choice.status_code == 200 and INVALID in choice.content.decode()

    _c, token = api_client_factory(ApiScope.REQUESTS_WRITE, ApiScope.WRITE)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    filed = api.post(
        "/api/v1/requests/", {"type": "access", "email": address}, content_type="application/json"
    )
    assert filed.status_code == 400 and INVALID in str(filed.json())
    granted = api.post(
        "/api/v1/consent/events/",
        {"email": address, "purpose": "marketing_email", "granted": True},
        content_type="application/json",
    )
    assert granted.status_code == 400 and INVALID in str(granted.json())

    assert not DataSubjectRequest.objects.exists()
    assert not ConsentEvent.objects.exists() and not PendingConfirmation.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("address", ["anne@Müller.DE", "anne@xn--mller-kva.de", "Anne@EXAMPLE.com"])
def test_addresses_mail_can_carry_as_written_are_kept(address):
    from accounts.validators import validate_mailable_email

    validate_mailable_email(address)  # no error


@pytest.mark.parametrize(
    "address", ["anna.schmidt@ex\u0430mple.com", "\u0430nna@example.com", "x@g\u03bfogle.com"]
)
def test_an_address_that_mixes_alphabets_to_look_like_another_is_refused(
    client, support_client, address
):
    """A Cyrillic "a" (U+0430) or a Greek "o" (U+03BF) among Latin letters: the address
    reads as someone else's (or as a known domain) on every page and in every list."""
    signup = _sign_up(client, address)
    assert "mixes letters of different alphabets" in signup.content.decode()
    choice = _post(
        support_client,
        "/admin/consent/consentstate/record/",
        {"email": address, "purpose": "marketing_email", "decision": "withdraw"},
    )
    assert "mixes letters of different alphabets" in choice.content.decode()
    assert not User.objects.filter(email=address).exists()
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize("address", ["иван@пример.рф", "ελένη@example.com", "anne@Müller.DE"])
def test_an_address_in_one_alphabet_per_part_is_kept(address):
    from accounts.validators import validate_mailable_email

    validate_mailable_email(address)  # no error
