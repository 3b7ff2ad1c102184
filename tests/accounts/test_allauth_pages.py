"""django-allauth's pages in the portal's voice: titles and headings in sentence case, like
the rest of the portal, and still in German for German readers."""

from __future__ import annotations

import re
from pathlib import Path

import allauth
import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from tests.conftest import login
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ALLAUTH_TEMPLATES = Path(allauth.__file__).resolve().parent / "templates"
# Features the portal does not switch on (phone numbers, passkeys, security keys, sessions).
UNUSED = re.compile(r"phone|passkey|webauthn|usersessions")
TITLE = re.compile(
    r"{% block head_title %}\s*{% trans(?:late)? \"([^\"]+)\" %}"
    r"|{% element h1 %}\s*{% trans(?:late)? \"([^\"]+)\" %}"
)


def _title_and_heading(page: str) -> tuple[str, str]:
    title = re.search(r"<title>(.*?) · Inper</title>", page, re.DOTALL)
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.DOTALL)
    assert title and heading
    return " ".join(title[1].split()), " ".join(heading[1].split())


@pytest.mark.parametrize(
    ("url", "title", "heading"),
    [
        ("/accounts/login/", "Sign in", "Sign in"),
        ("/accounts/signup/", "Sign up", "Sign up"),
        ("/accounts/password/reset/", "Password reset", "Password reset"),
        ("/accounts/confirm-email/", "Confirm your e-mail address", "Confirm your e-mail address"),
    ],
)
def test_allauth_pages_for_visitors_speak_in_sentence_case(client, url, title, heading):
    page = client.get(url).content.decode()
    assert _title_and_heading(page) == (title, heading)


@pytest.mark.parametrize(
    ("url", "title", "heading"),
    [
        # Not allauth's "Confirm access", which reads like the access request.
        ("/accounts/reauthenticate/", "Confirm it is you", "Confirm it is you"),
        ("/accounts/email/", "E-mail address", "E-mail address"),
        ("/accounts/password/change/", "Change password", "Change password"),
        ("/accounts/2fa/", "Two-factor authentication", "Two-factor authentication"),
    ],
)
def test_allauth_pages_for_customers_speak_in_sentence_case(customer, url, title, heading):
    client = login(Client(), customer, reauthenticated=True)
    page = client.get(url).content.decode()
    assert _title_and_heading(page) == (title, heading)


def test_allauth_titles_stay_german_for_german_readers():
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    page = client.get("/accounts/login/").content.decode()
    assert _title_and_heading(page) == ("Anmelden", "Anmelden")


def _sentence_case(text: str) -> bool:
    """Return whether only the first word (and words such as "Inper") starts in capitals."""
    return all(not word[:1].isupper() for word in re.findall(r"[\w-]+", text)[1:])


def test_every_allauth_title_in_use_reads_in_sentence_case():
    texts = set()
    for path in ALLAUTH_TEMPLATES.glob("*/**/*.html"):
        relative = str(path.relative_to(ALLAUTH_TEMPLATES))
        in_use = relative.startswith(("account/", "mfa/")) and not UNUSED.search(relative)
        overridden = (Path(settings.BASE_DIR) / "templates" / relative).exists()
        if in_use and not overridden:
            for match in TITLE.finditer(path.read_text(encoding="utf-8")):
                texts.add(match[1] or match[2])
    assert "Sign In" in texts  # the scan finds what it looks for
    with translation.override("en"):
        title_case = sorted(text for text in texts if not _sentence_case(translation.gettext(text)))
    assert title_case == [], "add these to locale_allauth/en/LC_MESSAGES/django.po"


def test_signing_in_names_the_person_by_their_address_not_an_internal_number(customer):
    """allauth's "Successfully signed in as …" (and its e-mails) name the account; the
    person knows it by their address, not by the portal's "Account #12"."""
    response = Client().post(
        "/accounts/login/",
        {"login": customer.email, "password": PASSWORD},
        follow=True,
    )
    page = response.content.decode()
    assert f"Successfully signed in as {customer.email}." in page
    assert f"Account #{customer.pk}" not in page


def test_signing_in_is_confirmed_in_the_persons_language():
    """Anna reads German: the sign-in's confirmation is German, like the page after it,
    unless she chose a language in this browser."""
    anna = UserFactory(email="anna@example.com", preferred_language="de")
    response = Client().post(
        "/accounts/login/", {"login": anna.email, "password": PASSWORD}, follow=True
    )
    assert f"Sie sind als {anna.email} angemeldet." in response.content.decode()

    chosen = Client()
    chosen.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = chosen.post(
        "/accounts/login/", {"login": anna.email, "password": PASSWORD}, follow=True
    )
    assert f"Successfully signed in as {anna.email}." in response.content.decode()


def test_the_password_comes_before_its_forgot_link_in_the_tab_order(client):
    """Typing the e-mail, Tab, the password, Enter signs in: the link to reset a forgotten
    password follows the password field instead of standing between the two."""
    page = client.get("/accounts/login/").content.decode()
    password = page.index('name="password"')
    forgot = page.index("Forgot your password?")
    assert page.index('name="login"') < password < forgot
    # Help that is not a link still comes before its field (read first).
    signup = client.get("/accounts/signup/").content.decode()
    assert signup.index('id="id_password1_helptext"') < signup.index('name="password1"')


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_check_your_inbox_page_says_where_to_write_in_every_language(client, language):
    page = client.get("/accounts/confirm-email/", HTTP_ACCEPT_LANGUAGE=language)
    assert "privacy@inper.com" in page.content.decode()


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "is your e-mail address."),
        ("de", "Ihre E-Mail-Adresse ist."),
    ],
)
def test_the_confirmation_page_names_the_address_once(client, language, said):
    """Not "…is an email address for user <the same address>"."""
    from allauth.account.models import EmailAddress, EmailConfirmationHMAC

    user = UserFactory(email="once@example.com")
    address, _created = EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": False}
    )
    key = EmailConfirmationHMAC(address).key
    page = client.get(f"/accounts/confirm-email/{key}/", HTTP_ACCEPT_LANGUAGE=language)
    text = " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())
    assert f"once@example.com {said}" in text
    assert text.count("once@example.com") == 1


def test_a_confirmation_link_opened_again_after_use_is_not_called_invalid(client):
    """A person who clicks the link in the e-mail a second time is told their address stays
    confirmed, not that the link is invalid."""
    from allauth.account.models import EmailAddress, EmailConfirmationHMAC

    user = UserFactory(email="twice@example.com")
    address, _created = EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": False}
    )
    key = EmailConfirmationHMAC(address).key
    client.post(f"/accounts/confirm-email/{key}/")
    address.refresh_from_db()
    assert address.verified
    page = client.get(f"/accounts/confirm-email/{key}/").content.decode()
    assert "or was used already: an address confirmed once stays confirmed" in page
    assert "is invalid" not in page


def test_asking_again_too_soon_for_a_confirmation_says_why_nothing_was_sent(customer, mailoutbox):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=customer, email="new.address@example.com", verified=False)
    client = login(Client(), customer)

    def resend():
        response = client.post(
            "/accounts/email/",
            {"email": "new.address@example.com", "action_send": ""},
            follow=True,
        )
        return " ".join(str(m) for m in response.context["messages"])

    first = resend()
    assert "a few minutes ago" not in first
    sent = [m for m in mailoutbox if m.to == ["new.address@example.com"]]
    assert len(sent) == 1
    again = resend()
    assert "We sent a confirmation e-mail to new.address@example.com a few minutes ago" in again
    assert len([m for m in mailoutbox if m.to == ["new.address@example.com"]]) == 1


def test_changing_back_to_an_address_too_soon_says_why_no_e_mail_came(customer, mailoutbox):
    """Changed to an address, away from it and back within minutes: allauth sends nothing the
    second time, and the page says so (the first e-mail's link may no longer work)."""
    client = login(Client(), customer, reauthenticated=True)

    def change(address):
        response = client.post(
            "/accounts/email/", {"email": address, "action_add": ""}, follow=True
        )
        return " ".join(str(m) for m in response.context["messages"])

    assert "a few minutes ago" not in change("first.choice@example.com")
    assert "a few minutes ago" not in change("second.choice@example.com")
    back = change("first.choice@example.com")
    assert "We sent a confirmation e-mail to first.choice@example.com a few minutes ago" in back
    assert "If its link no longer works" in back
    assert len([m for m in mailoutbox if m.to == ["first.choice@example.com"]]) == 1
    # The page says when the change takes effect, with no inline style (the Content Security
    # Policy would refuse it, and the browser show the hidden form).
    page = client.get("/accounts/email/").content.decode()
    assert "The change takes effect when you follow the link" in page
    assert "style=" not in page and "<form hidden\n" in page.replace("  ", "")
