"""The portal's own settings: a value that cannot work stops the portal at its system checks,
not at the first request or task that needs it."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from django.core.checks import CheckMessage, run_checks
from django.test import Client
from django.urls import reverse

from consent.marketing import unsubscribe_url
from consent.services import subject_for_user
from dsr.notifications import status_token, verification_token
from tests.conftest import login
from tests.dsr.helpers import file_request


def _problems(code: str, *, deploy: bool = False) -> list[CheckMessage]:
    checked = run_checks(include_deployment_checks=deploy)
    return [problem for problem in checked if problem.id == code]


def test_an_encryption_key_that_is_not_a_fernet_key_fails_the_system_checks(settings):
    assert _problems("portal.E001") == []
    settings.PORTAL_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), secrets.token_hex(32)]
    (problem,) = _problems("portal.E001")
    assert problem.msg.startswith("PORTAL_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key")
    hint = problem.hint or ""
    assert "Fernet.generate_key()" in hint
    assert settings.PORTAL_ENCRYPTION_KEYS[1] not in problem.msg + hint


def test_no_encryption_key_at_all_fails_the_system_checks(settings):
    settings.PORTAL_ENCRYPTION_KEYS = []
    (problem,) = _problems("portal.E001")
    assert problem.msg == "PORTAL_ENCRYPTION_KEYS is empty."


def test_a_public_address_without_https_is_a_deployment_warning(settings):
    """The development default is http://localhost:8000; a deployment must not keep it."""
    settings.PORTAL_BASE_URL = "http://privacy.inper.example"
    assert _problems("portal.W001") == []  # not a problem on a developer's machine
    (problem,) = _problems("portal.W001", deploy=True)
    assert problem.msg.startswith("PORTAL_BASE_URL (http://privacy.inper.example) is not")

    settings.PORTAL_BASE_URL = "https://privacy.inper.example"
    assert _problems("portal.W001", deploy=True) == []


@pytest.mark.django_db
@pytest.mark.parametrize("kept", [True, False], ids=["old key kept", "old key gone"])
def test_what_the_old_secret_key_signed_works_only_while_it_is_a_fallback(settings, customer, kept):
    """Given a session and the links of e-mails already sent, when SECRET_KEY changes, they
    keep working while the old key is in SECRET_KEY_FALLBACKS, and only then."""
    signed_in = login(Client(), customer)
    guest = file_request(type="access", email="guest@example.com", channel="portal_guest")
    links = {
        "a guest's status link": f"/requests/{guest.reference}/?t={status_token(guest)}",
        "a confirmation link": reverse("dsr:verify", args=[verification_token(guest)]),
        "an unsubscribe link": urlsplit(
            unsubscribe_url(subject=subject_for_user(customer), purpose_key="marketing_email")[0]
        ).path,
    }

    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY] if kept else []
    settings.SECRET_KEY = "rotated-" + secrets.token_urlsafe(48)

    assert (signed_in.get("/account/").status_code == 200) is kept  # else: to the sign-in page
    for what, link in links.items():
        assert (Client().get(link).status_code == 200) is kept, what
