"""A new customer's whole life in the portal, in Chromium."""

from __future__ import annotations

import re

import pytest

from accounts.models import User
from tests.e2e.conftest import link_in, mail_to, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EMAIL = "journey.person@example.com"
PASSWORD = "a-long-and-unusual-passphrase"


def test_sign_up_confirm_edit_switch_language_close_and_be_refused(page, mailoutbox, live_server):
    # Sign up, confirming the person is an adult.
    page.goto("/accounts/signup/")
    page.get_by_label("E-mail", exact=True).fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_label("I confirm that I am 18 years old or older.").check()
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Confirm your e-mail address").wait_for()

    # Confirm the address from the captured e-mail.
    confirmation = link_in(mail_to(mailoutbox, EMAIL)[-1], "/accounts/confirm-email/")
    page.goto(confirmation.replace("http://localhost:8000", live_server.url))
    page.get_by_role("button", name="Confirm").click()

    # Sign in and edit the profile.
    sign_in(page, EMAIL, PASSWORD)
    page.goto("/account/")
    page.get_by_label("First name").fill("Jo")
    page.get_by_label("Last name").fill("Journey")
    page.get_by_label("Phone").fill("+44 20 7946 0958")
    page.get_by_label("Country").select_option("GB")
    page.get_by_role("button", name="Save profile").click()
    page.get_by_text("Your profile was saved.").wait_for()
    user = User.objects.get(email=EMAIL)
    assert (user.first_name, user.phone, user.country.code) == ("Jo", "+442079460958", "GB")

    # Add an address.
    page.get_by_role("link", name="Add an address").click()
    page.get_by_label("Recipient").fill("Jo Journey")
    page.get_by_label("Street and number").fill("221B Baker Street")
    page.get_by_label("Postal code").fill("NW1 6XE")
    page.get_by_label("City").fill("London")
    page.get_by_label("Country").select_option("GB")
    page.get_by_role("button", name="Save address").click()
    page.locator("address", has_text="221B Baker Street").wait_for()
    assert user.addresses.get().is_default_shipping

    # Switch to German: the site, and the account's language, follow.
    page.get_by_label("Language", exact=True).select_option("de")
    page.get_by_role("button", name="Change language").click()
    page.get_by_role("heading", name="Mein Konto").wait_for()
    user.refresh_from_db()
    assert user.preferred_language == "de"

    # Close the account: re-authenticate first, then confirm.
    page.get_by_role("link", name="Mein Konto schließen").click()
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Bestätigen").click()
    page.get_by_label(re.compile("nicht rückgängig")).check()
    page.get_by_role("button", name="Mein Konto schließen").click()
    page.get_by_role("heading", name="Ihr Konto ist geschlossen").wait_for()
    assert "geschlossen" in mail_to(mailoutbox, EMAIL)[-1].subject

    # Signing in again is refused: the closed account gave up the address ...
    page.goto("/accounts/login/")
    page.get_by_label("E-Mail").fill(EMAIL)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.get_by_text("Die E-Mail-Adresse und/oder das Passwort sind nicht korrekt.").wait_for()
    assert page.url.endswith("/accounts/login/")

    # ... so that the person can open a new account with it at any time.
    page.goto("/accounts/signup/")
    page.get_by_role("textbox", name="E-Mail").fill(EMAIL)
    page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    page.get_by_label("Passwort (Wiederholung)").fill(PASSWORD)
    page.get_by_label("Ich bestätige, dass ich 18 Jahre oder älter bin.").check()
    page.get_by_role("button", name="Registrieren").click()
    page.get_by_role("heading", name="Bestätigen Sie Ihre E-Mail-Adresse").wait_for()
    assert User.objects.filter(email=EMAIL, is_active=True, closed_at__isnull=True).count() == 1
    assert User.objects.filter(closed_at__isnull=False).exclude(email=EMAIL).count() == 1


def test_an_address_saved_after_the_session_timed_out_is_there_after_signing_in_again(page):
    from accounts.models import Session
    from tests.factories import PASSWORD as CUSTOMER_PASSWORD
    from tests.factories import UserFactory

    customer = UserFactory(email="slow.typist@example.com")
    sign_in(page, customer.email, CUSTOMER_PASSWORD)
    page.goto("/account/addresses/new/")
    page.get_by_label("Recipient").fill("Sam Slow")
    page.get_by_label("Street and number").fill("12 Lindenstraße")
    page.get_by_label("Postal code").fill("10115")
    page.get_by_label("City").fill("Berlin")
    page.get_by_label("Country").select_option("DE")
    # The person stops typing for longer than the idle timeout.
    Session.objects.all().delete()
    page.get_by_role("button", name="Save address").click()

    page.get_by_text("Sign in again to save your changes: what you typed is kept.").wait_for()
    page.get_by_label("E-mail", exact=True).fill(customer.email)
    page.get_by_label("Password").fill(CUSTOMER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("heading", name="Add an address").wait_for()
    assert page.get_by_text("It is not saved yet").is_visible()
    assert page.get_by_label("Street and number").input_value() == "12 Lindenstraße"
    assert page.get_by_label("Recipient").input_value() == "Sam Slow"
    page.get_by_role("button", name="Save address").click()
    page.locator("address", has_text="12 Lindenstraße").wait_for()
    assert customer.addresses.get().city == "Berlin"


def test_times_on_a_page_are_shown_in_the_readers_own_time_zone_and_language(browser, live_server):
    from datetime import UTC, datetime

    from dsr.models import DataSubjectRequest
    from tests.dsr.helpers import file_request
    from tests.factories import PASSWORD, UserFactory

    anna = UserFactory(email="anna.zeit@example.com", preferred_language="de")
    filed = file_request(type="access", user=anna)
    DataSubjectRequest.objects.filter(pk=filed.pk).update(
        received_at=datetime(2026, 1, 15, 3, 30, tzinfo=UTC)
    )

    def shown_in(zone: str) -> tuple[str, str | None, str]:
        # The browser's own language is English: the page's (Anna's German) decides the words.
        context = browser.new_context(base_url=live_server.url, locale="en-GB", timezone_id=zone)
        try:
            page = context.new_page()
            sign_in(page, anna.email, PASSWORD)
            page.goto(f"/requests/{filed.reference}/")
            received = page.locator("dt:has-text('Eingegangen') + dd time")
            text, title = received.inner_text(), received.get_attribute("title")
            assert received.get_attribute("datetime") == "2026-01-15T03:30:00+00:00"
            page.goto("/requests/")
            listed = page.locator(f"tr:has-text('{filed.reference}') time").first.inner_text()
            return text, title, listed
        finally:
            context.close()

    # 03:30 UTC is 04:30 in Berlin in winter; the UTC time stays as the element's title.
    text, title, listed = shown_in("Europe/Berlin")
    assert re.search(r"15\. Januar 2026.*04:30.*MEZ", text), text
    assert title == "15. Januar 2026, 03:30 UTC" and listed == "15. Januar 2026"
    # In Los Angeles it was still the evening before: the list's day agrees with the time.
    text, title, listed = shown_in("America/Los_Angeles")
    assert re.search(r"14\. Januar 2026.*19:30", text), text
    assert listed == "14. Januar 2026"
