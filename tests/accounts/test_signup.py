"""Signing up: adults only, verified e-mail, no hint whether an address is known."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import hashers
from django.core import mail

from accounts.models import User
from privacy_portal.audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"


def _signup(client, HTTP_HOST="testserver", **overrides):
    data = {
        "email": "new.person@example.com",
        "password1": "a-long-and-unusual-passphrase",
        "password2": "a-long-and-unusual-passphrase",
        "confirm_adult": "on",
    }
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(SIGNUP, data, HTTP_HOST=HTTP_HOST)


def test_signup_creates_an_unverified_account_and_sends_a_confirmation_link(client):
    response = _signup(client)

    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.com")
    assert user.adult_confirmed_at is not None
    assert not user.emailaddress_set.get().verified
    assert len(mail.outbox) == 1
    assert re.search(r"/accounts/confirm-email/\S+/", mail.outbox[0].body)
    assert AuditEvent.objects.filter(action="account.signed_up", object_id=str(user.pk)).exists()


def test_the_form_links_to_the_privacy_statement_by_its_button(client):
    page = client.get(SIGNUP).content.decode()

    form = page.split('class="auth-form"', 1)[1].split("</form>", 1)[0]
    note, actions = form.split('<div class="actions">', 1)
    assert 'our <a href="/privacy/statement/">privacy statement</a>.' in note
    assert "Sign up" in actions
    # News by e-mail, ticked, sends an e-mail of its own besides the address's: said first.
    assert "confirm it in a second e-mail" in note
    assert client.get("/privacy/statement/").status_code == 200  # open to visitors
    assert "privacy statement" not in client.get("/accounts/login/").content.decode()


def test_account_emails_name_the_portal_not_the_host(client, settings):
    settings.PORTAL_BASE_URL = "https://privacy.inper.example"
    _signup(client, HTTP_HOST="localhost:8101")

    [message] = mail.outbox
    assert message.body.startswith("Hello,\n")
    assert message.body.endswith(
        "-- \nInper Privacy Portal\nprivacy.inper.example\nQuestions? Write to privacy@inper.com."
    )
    assert "an account on privacy.inper.example" in message.body
    assert "localhost" not in message.body


def test_account_emails_in_german_name_the_portal_in_german(client):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "de"
    _signup(client)

    [message] = mail.outbox
    assert message.body.startswith("Hallo,\n")
    assert "\nInper-Datenschutzportal\n" in message.body
    assert "Fragen? Schreiben Sie an privacy@inper.com." in message.body


def test_signing_in_before_confirming_the_email_is_not_possible(client):
    _signup(client)
    client.logout()

    response = client.post(
        "/accounts/login/",
        {"login": "new.person@example.com", "password": "a-long-and-unusual-passphrase"},
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/confirm-email/")
    assert "_auth_user_id" not in client.session


def test_under_18_signup_is_refused_kindly_and_nothing_is_stored(client):
    response = _signup(client, confirm_adult=None)

    assert response.status_code == 200
    assert "tick this box to confirm that you are 18 or older" in response.content.decode()
    assert not User.objects.filter(email="new.person@example.com").exists()
    assert mail.outbox == []


def test_the_summary_of_several_errors_links_each_field_and_reads_as_sentences(client):
    page = _signup(client, confirm_adult=None, email="not an address").content.decode()

    assert '<a href="#id_email">E-mail</a>: ' in page
    # A label that ends in a full stop is not followed by a colon.
    assert '<a href="#id_confirm_adult">I confirm that I am 18 years old or older.</a> ' in page
    assert not User.objects.exists()
    assert mail.outbox == []


def test_signup_with_a_known_email_reveals_nothing_and_tells_the_owner(client):
    owner = UserFactory(email="taken@example.com")

    response = _signup(client, email="taken@example.com")

    # The same answer as for a new address: the page does not say the address is known ...
    assert response.status_code == 302
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    # ... but the owner is told that someone tried, by e-mail.
    assert [m.to for m in mail.outbox] == [[owner.email]]
    assert "already" in mail.outbox[0].body.lower()


def test_a_domain_in_either_spelling_is_one_mailbox_and_one_account(client):
    """ "exämple.org" and its punycode "xn--exmple-cua.org" are the same mailbox: one account,
    and a choice made under one spelling is found under the other."""
    from consent.services import subject_for_email
    from privacy_portal.pseudonymise import email_hash

    assert _signup(client, email="Sam.IDN@exämple.org").status_code == 302
    assert _signup(client, email="sam.idn@XN--EXMPLE-CUA.ORG").status_code == 302
    assert list(User.objects.values_list("email", flat=True)) == ["sam.idn@exämple.org"]
    # Each e-mail went to the address as the account holds it.
    assert [m.to for m in mail.outbox] == [["sam.idn@exämple.org"]] * len(mail.outbox)
    assert email_hash("sam.idn@xn--exmple-cua.org") == email_hash("SAM.IDN@exämple.org")
    user = User.objects.get()
    assert subject_for_email("sam.idn@xn--exmple-cua.org").user_id == user.pk


def test_signup_with_a_known_email_hashes_the_password_as_a_new_one_does(client):
    """allauth skips the hashing for a known address: the answer came ten times faster and
    told that the address has an account."""
    UserFactory(email="taken@example.com")
    with mock.patch("accounts.forms.make_password", wraps=hashers.make_password) as known:
        _signup(client, email="Taken@Example.com")
    with mock.patch(
        "django.contrib.auth.base_user.make_password", wraps=hashers.make_password
    ) as new:
        _signup(client)
    assert known.call_args.args == ("a-long-and-unusual-passphrase",)
    assert new.call_args.args == ("a-long-and-unusual-passphrase",)
    assert User.objects.filter(email="new.person@example.com").exists()


class RefusingBackend:
    """A mail server that does not answer."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")


def test_a_signup_whose_confirmation_cannot_be_sent_keeps_nothing_and_can_be_repeated(
    client, settings
):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    client.raise_request_exception = False

    response = _signup(client)

    assert response.status_code == 503
    assert "did not save anything" in response.content.decode()
    assert not User.objects.filter(email="new.person@example.com").exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert _signup(client).status_code == 302
    assert User.objects.filter(email="new.person@example.com").exists()
    assert [m.to for m in mail.outbox] == [["new.person@example.com"]]


def test_e_mail_links_are_on_the_portal_address_whatever_host_the_form_came_in_on(client, settings):
    settings.PORTAL_BASE_URL = "https://privacy.inper.example"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "privacy.inper.example"]
    UserFactory(email="taken@example.com")
    _signup(client, HTTP_HOST="127.0.0.1")
    _signup(client, HTTP_HOST="127.0.0.1", email="taken@example.com")
    client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, HTTP_HOST="127.0.0.1")
    client.post("/accounts/password/reset/", {"email": "taken@example.com"}, HTTP_HOST="127.0.0.1")

    assert len(mail.outbox) == 4
    for message in mail.outbox:
        links = re.findall(r"https?://[^\s/]+", message.body)
        assert links and set(links) == {"https://privacy.inper.example"}, message.body


def test_oversize_and_malformed_signup_fields_get_clear_messages(client):
    response = _signup(client, email="x" * 300 + "@example.com")
    assert response.status_code == 200
    assert "at most 254 characters" in response.content.decode()
    assert not User.objects.exists()

    response = _signup(client, email="not-an-email")
    assert "valid email" in response.content.decode().lower()

    response = _signup(client, password2="something-else-entirely")
    assert "same password" in response.content.decode().lower()


def test_the_e_mails_for_a_taken_or_unknown_address_speak_plainly(client):
    """Signing up with an address that has an account, and resetting the password of one
    that has none: each e-mail says what happened and what to do, in the portal's words."""
    UserFactory(email="taken@example.com")
    _signup(client, email="taken@example.com")
    client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    taken, unknown = mail.outbox
    assert taken.to == ["taken@example.com"] and unknown.to == ["nobody@example.com"]
    assert taken.subject == "Inper: You already have an account"
    assert "You already have an account with it, so no new account was made." in taken.body
    assert re.search(r"http://[^\s]+/accounts/password/reset/", taken.body)
    assert "No account has this address, so nothing was changed." in unknown.body
    assert re.search(r"http://[^\s]+/accounts/signup/", unknown.body)
    for message in (taken, unknown):
        assert "signup for" not in message.body and "password forgotten" not in message.body
        assert "  " not in message.body and "privacy@inper.com" in message.body


def test_broken_account_links_say_so_in_plain_words(client, customer):
    page = client.get("/accounts/password/reset/key/1-wrong/").content.decode()
    assert "Invalid link" in page and "Ask for a new one" in page
    assert "Bad token" not in page
    page = client.get("/accounts/confirm-email/wrong/").content.decode()
    assert "This confirmation link has expired, or was used already" in page
    assert "issue a new" not in page


def test_the_e_mails_for_a_taken_or_unknown_address_are_in_the_readers_language(client):
    """The account's language for an address that has one; the page's for one that has none."""
    UserFactory(email="taken@example.com", preferred_language="de")
    _signup(client, email="taken@example.com")
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "de"
    client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    taken, unknown = mail.outbox
    assert "Sie haben damit bereits ein Konto" in taken.body
    assert "Kein Konto hat diese Adresse, daher wurde nichts geändert." in unknown.body
