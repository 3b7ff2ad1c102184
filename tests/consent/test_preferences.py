"""The preference centre, its history and receipt, and double opt-in for e-mail marketing."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail

from consent import services
from consent.models import ConsentEvent, ConsentState
from consent.receipts import receipt_signature
from tests.consent.conftest import history_rows, record

pytestmark = pytest.mark.django_db


def _switch(client, key, value):
    return client.post(f"/privacy/choices/{key}/", {"granted": value}, REMOTE_ADDR="198.51.100.23")


def test_the_preference_centre_needs_sign_in(client):
    response = client.get("/privacy/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_centre_lists_every_purpose_with_its_legal_basis(customer_client):
    page = customer_client.get("/privacy/").content.decode()
    for text in (
        "News and offers by e-mail",
        "Offers by text message",
        "Transfers to other countries",
        "Legal basis:",
        "Legitimate interest",
        "Stop all marketing",
        "Always on",
    ):
        assert text in page, text


def test_switching_on_and_off_is_one_action_each_and_recorded(customer_client, customer):
    assert _switch(customer_client, "surveys", "on").status_code == 302
    assert _switch(customer_client, "surveys", "off").status_code == 302

    events = list(ConsentEvent.objects.filter(purpose__key="surveys").order_by("id"))
    assert [(e.granted, e.source, e.ip_truncated) for e in events] == [
        (True, "preference_centre", "198.51.100.0"),
        (False, "preference_centre", "198.51.100.0"),
    ]
    page = customer_client.get("/privacy/history/").content.decode()
    assert page.count(">Customer surveys</td>") == 2 and "Given" in page and "Withdrawn" in page


def test_objecting_to_transfers_abroad_is_recorded_and_visible(customer_client, customer):
    _switch(customer_client, "international_transfers", "off")
    state = ConsentState.objects.get(purpose__key="international_transfers")
    assert state.granted is False and state.subject.user_id == customer.pk
    page = customer_client.get("/privacy/").content.decode()
    assert "Withdraw my objection" in page


def test_unknown_purposes_and_bad_values_get_400_and_no_row(customer_client):
    assert _switch(customer_client, "no-such-purpose", "on").status_code == 400
    assert _switch(customer_client, "orders", "off").status_code == 400
    assert _switch(customer_client, "surveys", "maybe").status_code == 400
    # A cookie category is chosen in a browser's cookie settings, not on the account alone.
    cookie = _switch(customer_client, "analytics", "on")
    assert cookie.status_code == 400 and "in the cookie settings" in cookie.content.decode()
    assert not ConsentEvent.objects.exists()


def test_email_marketing_counts_only_after_the_confirmation_link(
    customer_client, customer, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _switch(customer_client, "marketing_email", "on")

    assert not ConsentEvent.objects.exists()
    page = customer_client.get("/privacy/").content.decode()
    assert "Waiting for your confirmation" in page
    assert "this starts once you click the link in it" in page
    # Its button cancels the confirmation asked for; nothing is on to switch off.
    row = page.split("Waiting for your confirmation", 1)[1].split("</li>", 1)[0]
    assert "Cancel, keep it off" in row and "Switch off" not in row
    (message,) = mail.outbox
    assert message.to == [customer.email]
    link = re.search(r"http://\S+/privacy/confirm/\S+/", message.body).group(0)
    path = link.split("8000", 1)[1]

    # Opening the link changes nothing (mail scanners follow links); the button confirms.
    assert client.get(path).status_code == 200
    assert not ConsentEvent.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(path).status_code == 200
    event = ConsentEvent.objects.get()
    assert event.granted and event.source == "preference_centre"
    assert set(event.evidence["double_opt_in"]) == {"requested_at", "confirmed_at"}

    # The welcome e-mail is the first marketing e-mail: it carries one-click unsubscribe.
    welcome = mail.outbox[-1]
    assert "Welcome" in welcome.subject
    assert welcome.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The link works once.
    assert client.post(path).status_code == 410
    assert ConsentEvent.objects.count() == 1


def test_a_confirmation_link_opens_in_the_language_of_its_e_mail(
    client, django_capture_on_commit_callbacks
):
    from consent import services
    from tests.factories import UserFactory

    anna = UserFactory(email="anna@example.com", preferred_language="de")
    with django_capture_on_commit_callbacks(execute=True):
        services.consent_signup_opt_in(user=anna)
    (message,) = [m for m in mail.outbox if m.to == [anna.email]]
    path = re.search(r"http://\S+/privacy/confirm/\S+/", message.body).group(0).split("8000", 1)[1]

    page = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert '<html lang="de"' in page


def test_a_confirmation_link_replaced_by_a_newer_one_says_so(
    customer_client, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _switch(customer_client, "marketing_email", "on")
        _switch(customer_client, "marketing_email", "on")  # no e-mail yet: asked again
    first, newer = (re.search(r"/privacy/confirm/\S+/", m.body).group(0) for m in mail.outbox)

    for response in (client.get(first), client.post(first)):
        assert response.status_code == 410
        page = response.content.decode()
        assert "you asked for a newer one" in page
        assert "copy the whole link" not in page
    assert not ConsentEvent.objects.exists()
    assert client.post(newer).status_code == 200
    assert ConsentEvent.objects.get().granted


def test_a_tampered_confirmation_link_is_refused(
    customer_client, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _switch(customer_client, "marketing_email", "on")
    path = re.search(r"/privacy/confirm/\S+/", mail.outbox[0].body).group(0)
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    assert client.post(tampered).status_code == 400
    assert not ConsentEvent.objects.exists()


def test_stop_all_marketing(customer_client, customer):
    record(customer, "marketing_sms", True)
    record(customer, "marketing_phone", True)

    customer_client.post("/privacy/choices/stop-all-marketing/")

    granted = {
        s.purpose.key: s.granted for s in ConsentState.objects.filter(purpose__kind="marketing")
    }
    assert granted == {
        "marketing_sms": False,
        "marketing_phone": False,
        "marketing_post": False,
    }


def test_the_history_calls_switching_off_an_objection_where_the_basis_is_legitimate_interest(
    customer_client, customer
):
    """Post marketing rests on legitimate interest: stopping all marketing objects to it, and
    the history says "Objected" (and "Objection withdrawn" when it is back on), while a
    withdrawn consent to text messages says "Withdrawn"."""
    record(customer, "marketing_sms", True)
    customer_client.post("/privacy/choices/stop-all-marketing/")
    _switch(customer_client, "marketing_post", "on")

    assert history_rows(customer_client)[:3] == [
        ("Catalogues and offers by post", "Objection withdrawn", "Preference centre"),
        ("Catalogues and offers by post", "Objected", "Preference centre"),
        ("Offers by text message", "Withdrawn", "Preference centre"),
    ]


def test_history_and_receipt_show_only_my_own_events(customer_client, customer, other_customer):
    record(customer, "surveys", True)
    record(customer, "statistics", False)
    record(other_customer, "referrals", True)

    page = customer_client.get("/privacy/history/").content.decode()
    assert ">Customer surveys</td>" in page
    assert "Information for people you refer" not in page

    response = customer_client.get("/privacy/history/receipt.json")
    assert response["Content-Disposition"].startswith("attachment;")
    receipt = json.loads(response.content)
    assert receipt["version"] == "KI-CR-v1.1.0"
    for field in ("consentReceiptID", "piiPrincipalId", "piiControllers", "policyUrl", "services"):
        assert receipt[field]
    events = receipt["iso27560"]["events"]
    # An objection is named as one, not as a withdrawn consent.
    assert sorted((e["purposeId"], e["eventType"]) for e in events) == [
        ("statistics", "objected"),
        ("surveys", "given"),
    ]
    assert events[0]["notice"]["textHash"].startswith("sha256:")
    assert receipt["signature"]["value"] == receipt_signature(receipt)
    assert customer.email not in response.content.decode()


def test_the_receipt_says_where_to_withdraw_each_choice_with_a_full_address(
    customer_client, customer, settings
):
    """Like every other address in the receipt, where to withdraw is a full one: the cookie
    settings for a cookie category, the privacy choices for the rest."""
    record(customer, "surveys", True)
    record(customer, "analytics", True)

    receipt = json.loads(customer_client.get("/privacy/history/receipt.json").content)

    purposes = {p["purposeId"]: p for p in receipt["services"][0]["purposes"]}
    base = settings.PORTAL_BASE_URL
    assert base.startswith("http")
    assert purposes["surveys"]["termination"] == f"{base}/privacy/"
    assert purposes["analytics"]["termination"] == f"{base}/privacy/cookies/"
    assert receipt["policyUrl"] == f"{base}/privacy/statement/"
    assert receipt["signature"]["value"] == receipt_signature(receipt)


def test_a_consent_on_an_old_text_shows_as_such_and_must_be_given_again(
    customer_client, customer, superuser
):
    event = record(customer, "surveys", True)
    services.purpose_text_update(
        purpose_id=event.purpose_id,
        texts={"en": {"title": "Customer surveys", "description": "Now also by phone."}},
        material=True,
        change_summary="phone",
        actor=superuser,
    )
    page = customer_client.get("/privacy/").content.decode()
    assert "Please choose again" in page
    assert "You chose on version 1 of this text; it is now at version 2." in page


def test_the_sign_up_box_asks_for_confirmation_and_records_source_sign_up(
    client, django_capture_on_commit_callbacks
):
    from accounts.models import User

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/accounts/signup/",
            {
                "email": "new.person@example.com",
                "password1": "a-long-and-unusual-passphrase",
                "password2": "a-long-and-unusual-passphrase",
                "confirm_adult": "on",
                "marketing_email": "on",
            },
        )
    user = User.objects.get(email="new.person@example.com")
    confirm = next(m for m in mail.outbox if "/privacy/confirm/" in m.body)
    path = re.search(r"/privacy/confirm/\S+/", confirm.body).group(0)
    assert not ConsentEvent.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(path)
    event = ConsentEvent.objects.get()
    assert (event.source, event.granted, event.subject.user_id) == ("signup", True, user.pk)


def test_sign_up_without_the_box_records_nothing(client):
    client.post(
        "/accounts/signup/",
        {
            "email": "quiet.person@example.com",
            "password1": "a-long-and-unusual-passphrase",
            "password2": "a-long-and-unusual-passphrase",
            "confirm_adult": "on",
        },
    )
    assert not ConsentEvent.objects.exists()
    assert not any("/privacy/confirm/" in m.body for m in mail.outbox)


def test_a_consent_asked_again_can_be_declined_explicitly(customer_client, customer, superuser):
    event = record(customer, "surveys", True)
    services.purpose_text_update(
        purpose_id=event.purpose_id,
        texts={"en": {"title": "Customer surveys", "description": "Now also by phone."}},
        material=True,
        change_summary="phone",
        actor=superuser,
    )
    assert "Keep it off" in customer_client.get("/privacy/").content.decode()
    _switch(customer_client, "surveys", "off")
    state = ConsentState.objects.get(purpose__key="surveys")
    assert not state.granted and state.purpose_version.version == 2
    assert "Please choose again" not in customer_client.get("/privacy/").content.decode()


def test_objecting_in_the_centre_to_a_use_other_systems_carry_out_files_an_objection(
    customer, django_capture_on_commit_callbacks
):
    """The centre promises that the compliance team reviews an objection to transfers abroad:
    switching it off files the objection, which tells the systems that transfer the data,
    after the password is confirmed (it changes how the data is processed)."""
    from django.test import Client

    from dsr.models import DataSubjectRequest, RequestType, State
    from tests.conftest import login
    from tests.dsr.helpers import add_store

    add_store("crm", "manual", config={"purpose_keys": ["international_transfers"]})
    stale = login(Client(), customer)
    response = _switch(stale, "international_transfers", "off")
    assert response.status_code == 302 and "/accounts/reauthenticate/" in response["Location"]
    assert not ConsentEvent.objects.exists() and not DataSubjectRequest.objects.exists()

    fresh = login(Client(), customer, reauthenticated=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = _switch(fresh, "international_transfers", "off")
    assert response.status_code == 302
    objection = DataSubjectRequest.objects.get()
    assert (objection.type, objection.purposes, objection.user_id) == (
        RequestType.OBJECTION,
        ["international_transfers"],
        customer.pk,
    )
    # Carried out (objections need no officer by default): the CRM is asked to stop.
    assert objection.state == State.RUNNING
    assert objection.tasks.filter(store__key="crm", action="restrict").exists()
    state = ConsentState.objects.get(purpose__key="international_transfers")
    assert state.granted is False  # and the person sees the effect at once
    # One choice, one line in their history (the request does not record it again).
    assert ConsentEvent.objects.filter(purpose__key="international_transfers").count() == 1
    page = fresh.get(response["Location"]).content.decode()
    assert f"Request {objection.reference} tells Inper" in page
    # Switching it on and off again files nothing more while the objection is open.
    _switch(fresh, "international_transfers", "on")
    _switch(fresh, "international_transfers", "off")
    assert DataSubjectRequest.objects.count() == 1


def test_withdrawing_consent_in_the_centre_tells_the_systems_that_use_it(
    customer, django_capture_on_commit_callbacks
):
    from django.test import Client

    from dsr.models import DataSubjectRequest, RequestType, StoreTask
    from tests.conftest import login
    from tests.dsr.helpers import add_store

    add_store("survey_tool", "manual", config={"purpose_keys": ["surveys"]})
    record(customer, "surveys", True)
    client = login(Client(), customer)  # a withdrawal needs no password: as easy as consent
    with django_capture_on_commit_callbacks(execute=True):
        _switch(client, "surveys", "off")
    withdrawal = DataSubjectRequest.objects.get()
    assert withdrawal.type == RequestType.WITHDRAW_CONSENT and withdrawal.approved_at
    assert StoreTask.objects.filter(request=withdrawal, store__key="survey_tool").exists()
    events = ConsentEvent.objects.filter(purpose__key="surveys").order_by("id")
    assert [(e.granted, e.source) for e in events][1:] == [(False, "request")]
    assert ConsentState.objects.get(purpose__key="surveys").granted is False
    # While that withdrawal is open (its step waits for staff), switching on and off again is
    # recorded all the same, and files nothing more.
    _switch(client, "surveys", "on")
    _switch(client, "surveys", "off")
    assert ConsentState.objects.get(purpose__key="surveys").granted is False
    assert DataSubjectRequest.objects.count() == 1
    # A use no other system carries out is only recorded.
    _switch(client, "personalisation", "off")
    assert DataSubjectRequest.objects.count() == 1


@pytest.mark.parametrize("key", ["marketing_sms", "marketing_phone"])
def test_texts_and_calls_cannot_be_switched_on_without_a_number_to_send_them_to(
    customer_client, customer, key
):
    customer.phone = ""
    customer.save(update_fields=["phone"])
    page = customer_client.get("/privacy/").content.decode()
    assert "add your phone number to your profile</a>" in page

    response = customer_client.post(f"/privacy/choices/{key}/", {"granted": "on"}, follow=True)
    assert "is still off: add your phone number to your profile first" in response.content.decode()
    assert not ConsentEvent.objects.filter(purpose__key=key).exists()

    customer.phone = "+4915112345678"
    customer.save(update_fields=["phone"])
    assert "add your phone number" not in customer_client.get("/privacy/").content.decode()
    customer_client.post(f"/privacy/choices/{key}/", {"granted": "on"})
    assert ConsentEvent.objects.get(purpose__key=key).granted
