"""My account: the profile and the address book, validated, audited and private."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Address, Session, User
from privacy_portal.audit.models import AuditEvent
from privacy_portal.drafts import DRAFT_RATE
from tests.conftest import login
from tests.factories import PASSWORD, AddressFactory, UserFactory

pytestmark = pytest.mark.django_db

PROFILE = "/account/"


def _profile(**overrides):
    data = {
        "first_name": "Alice",
        "last_name": "Customer",
        "phone": "",
        "date_of_birth": "",
        "country": "DE",
        "preferred_language": "en",
    }
    data.update(overrides)
    return data


def test_profile_page_shows_what_the_portal_holds(customer_client, customer):
    AddressFactory(user=customer, line1="12 Garden Road", is_default_shipping=True)

    page = customer_client.get(PROFILE).content.decode()

    assert customer.email in page
    assert 'value="Alice"' in page
    assert "12 Garden Road" in page
    # Saving here corrects the portal only: the way to the other systems' copies is offered.
    assert '<a href="/requests/new/?type=rectification">ask for a correction</a>' in page
    form = customer_client.get("/requests/new/?type=rectification", follow=True).content.decode()
    assert "checked" in form.split('value="rectification"', 1)[1].split(">", 1)[0]


def test_profile_edit_saves_phone_in_e164_and_audits_field_names_only(customer_client, customer):
    response = customer_client.post(
        PROFILE, _profile(phone="030 1234567", date_of_birth="1980-02-29", last_name="Smith")
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.phone == "+49301234567"
    assert str(customer.date_of_birth) == "1980-02-29"
    event = AuditEvent.objects.get(action="account.profile.updated")
    assert event.after == {"fields": ["date_of_birth", "last_name", "phone"]}
    assert "+49301234567" not in str(event.after) and "Smith" not in str(event.after)
    assert event.actor_id == customer.pk


def test_a_phone_number_kept_from_before_does_not_stop_other_changes(customer_client, customer):
    """A number stored before today's check (an import, an older rule) is left as it is when
    the person changes something else; a new number is checked."""
    User.objects.filter(pk=customer.pk).update(phone="+447700900123")  # not a valid number

    response = customer_client.post(PROFILE, _profile(phone="+447700900123", first_name="Alicia"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.first_name == "Alicia" and customer.phone == "+447700900123"
    refused = customer_client.post(PROFILE, _profile(phone="+447700900124"))
    assert refused.status_code == 400 and "valid phone number" in refused.content.decode()
    # The error gives the same example as the field's hint.
    assert refused.content.decode().count("for example +49 30 1234567") == 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12", "valid phone number"),
        ("phone", "+49 30 1234567" + "8" * 40, "at most 20 characters"),
        ("date_of_birth", "2999-01-01", "cannot be in the future"),
        ("date_of_birth", "2015-06-01", "aged 18 or older"),
        ("date_of_birth", "31/31/1990", "valid date"),
        ("first_name", "A" * 151, "at most 150 characters"),
        ("last_name", "Smith\u202egnp.exe", "invisible or control characters"),
        ("first_name", "Nul\x00Byte", "Null characters are not allowed"),
        ("country", "XX", "valid choice"),
        ("preferred_language", "fr", "valid choice"),
    ],
)
def test_invalid_profile_input_gets_a_clear_message_and_changes_nothing(
    customer_client, customer, field, value, message
):
    before = User.objects.values().get(pk=customer.pk)

    response = customer_client.post(PROFILE, _profile(**{field: value}))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert User.objects.values().get(pk=customer.pk) == before
    assert not AuditEvent.objects.filter(action="account.profile.updated").exists()


def test_address_book_add_edit_default_delete(customer_client, customer):
    data = {
        "recipient": "Alice Customer",
        "line1": "1 First Street",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
    }
    assert customer_client.post("/account/addresses/new/", data).status_code == 302
    first = Address.objects.get(user=customer)
    assert first.is_default_shipping  # the first address becomes the default

    data2 = {**data, "line1": "2 Second Street", "is_default_shipping": "on"}
    customer_client.post("/account/addresses/new/", data2)
    second = Address.objects.get(user=customer, line1="2 Second Street")
    first.refresh_from_db()
    assert second.is_default_shipping and not first.is_default_shipping

    customer_client.post(f"/account/addresses/{first.pk}/default/")
    assert list(
        Address.objects.filter(user=customer, is_default_shipping=True).values_list("pk", flat=True)
    ) == [first.pk]

    customer_client.post(f"/account/addresses/{first.pk}/edit/", {**data, "city": "Potsdam"})
    first.refresh_from_db()
    # Unticking "default" on the default address does not leave the book without one.
    assert first.city == "Potsdam" and first.is_default_shipping

    customer_client.post(f"/account/addresses/{second.pk}/delete/")
    assert not Address.objects.filter(pk=second.pk).exists()
    actions = list(
        AuditEvent.objects.filter(scope=f"accounts.user:{customer.pk}")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        "account.address.created",
        "account.address.created",
        "account.address.made_default",
        "account.address.updated",
        "account.address.deleted",
    ]


def test_deleting_the_default_address_promotes_the_oldest_remaining(customer_client, customer):
    old = AddressFactory(user=customer)
    default = AddressFactory(user=customer, is_default_shipping=True)

    customer_client.post(f"/account/addresses/{default.pk}/delete/")

    old.refresh_from_db()
    assert old.is_default_shipping


def test_invalid_address_is_refused_with_messages(customer_client, customer):
    response = customer_client.post(
        "/account/addresses/new/",
        {"recipient": "", "line1": "x" * 201, "postal_code": "1", "city": "B", "country": "ZZ"},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "This field is required" in body
    assert "at most 200 characters" in body
    assert not Address.objects.filter(user=customer).exists()


def test_a_new_address_starts_in_the_country_the_person_lives_in(customer_client, customer):
    customer.country = "AT"
    customer.save(update_fields=["country"])
    page = customer_client.get("/account/addresses/new/").content.decode()
    assert '<option value="AT" selected>' in page


def test_a_form_with_several_fields_to_correct_lists_them_first(customer_client):
    """Each field to correct is named above the form and linked to its input; a form with one
    mistake shows it by its field only."""
    several = customer_client.post(
        "/account/addresses/new/",
        {"recipient": "", "line1": "x" * 201, "postal_code": "1", "city": "B", "country": "ZZ"},
    )
    summary = re.search(r'<div class="error-summary">(.*?)</div>', several.content.decode(), re.S)
    assert summary is not None
    links = dict(re.findall(r'<a href="#(\w+)">([^<]+)</a>', summary.group(1)))
    assert links == {
        "id_recipient": "Recipient",
        "id_line1": "Street and number",
        "id_country": "Country",
    }
    assert "This field is required" in summary.group(1)

    one = customer_client.post(
        "/account/addresses/new/",
        {"recipient": "", "line1": "L", "postal_code": "10115", "city": "B", "country": "DE"},
    )
    assert one.status_code == 400
    assert b"error-summary" not in one.content


def test_the_address_book_has_a_limit(customer_client, customer, settings):
    settings.ACCOUNTS_MAX_ADDRESSES = 2
    AddressFactory.create_batch(2, user=customer)
    response = customer_client.post(
        "/account/addresses/new/",
        {"recipient": "A", "line1": "L", "postal_code": "10115", "city": "B", "country": "DE"},
    )
    assert response.status_code == 400
    assert "address book is full" in response.content.decode()
    assert Address.objects.filter(user=customer).count() == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/account/addresses/{pk}/edit/"),
        ("post", "/account/addresses/{pk}/edit/"),
        ("get", "/account/addresses/{pk}/delete/"),
        ("post", "/account/addresses/{pk}/delete/"),
        ("post", "/account/addresses/{pk}/default/"),
    ],
)
def test_a_customer_cannot_reach_another_customers_address(
    customer_client, other_customer, method, path
):
    theirs = other_customer.addresses.get()
    before = Address.objects.values().get(pk=theirs.pk)

    response = getattr(customer_client, method)(
        path.format(pk=theirs.pk),
        {"recipient": "Mallory", "line1": "Evil", "postal_code": "1", "city": "X", "country": "DE"},
    )

    assert response.status_code == 404
    assert Address.objects.values().get(pk=theirs.pk) == before


def test_profile_form_ignores_ids_and_fields_it_does_not_own(
    customer_client, customer, other_customer
):
    customer_client.post(
        PROFILE,
        _profile(id=other_customer.pk, email="hijack@example.com", is_staff="on", first_name="Eve"),
    )
    other_customer.refresh_from_db()
    customer.refresh_from_db()
    assert other_customer.first_name == "Bob"
    assert customer.email != "hijack@example.com" and not customer.is_staff
    assert customer.first_name == "Eve"


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in ("/account/", "/account/data/", "/account/close/", "/account/addresses/new/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_my_data_lists_every_category_of_the_statement(customer_client, customer):
    AddressFactory(user=customer)
    page = customer_client.get("/account/data/").content.decode()
    for title in (
        "Account and profile",
        "Orders and payments",
        "Photos and videos you upload",
        "Marketing choices",
        "Cookies and browsing",
        "Device and connection data",
        "Information from others",
        "Support requests",
    ):
        assert title in page
    assert customer.email in page


def test_my_data_shows_the_addresses_i_replaced_and_requests_search_by_them(
    customer_client, customer
):
    """Inper's other systems know a customer by the address they gave them: the portal keeps
    the ones replaced (shown here), and a request's subject carries them to the stores."""
    from accounts.services import account_email_replaced
    from dsr.identity import subject_of
    from tests.dsr.helpers import file_request

    assert "Earlier e-mail addresses" not in customer_client.get("/account/data/").content.decode()
    old = customer.email
    earlier = file_request(type="restriction", user=customer)  # kept by its address's hash
    customer.email = "alice.moved@example.org"
    customer.save(update_fields=("email",))
    account_email_replaced(user=customer, old=old.upper(), new=customer.email)
    page = customer_client.get("/account/data/").content.decode()
    assert "Earlier e-mail addresses" in page and old in page
    subject = subject_of(file_request(type="access", user=customer))
    assert subject.identity("email") == ("alice.moved@example.org", old)
    # The portal's own records kept by the old address's hash are still the person's.
    from dsr.connectors.registry import connector_for
    from dsr.models import DataStore, DataSubjectRequest
    from dsr.personal_data import REQUEST_ENTITY
    from privacy_portal.pseudonymise import email_hash

    portal = connector_for(DataStore.objects.get(key="portal"))
    assert portal.locate(subject).counts[REQUEST_ENTITY] == 2  # the earlier one and this
    assert earlier.pk in DataSubjectRequest.objects.filter(subject_key=email_hash(old)).values_list(
        "pk", flat=True
    )
    # Once someone else has proven the old address to be theirs, it is not searched by: it
    # would find their records. "My data" still lists it.
    UserFactory(email=old.upper())
    subject = subject_of(file_request(type="rectification", user=customer, details="Spelling"))
    assert subject.identity("email") == ("alice.moved@example.org",)
    assert old in customer_client.get("/account/data/").content.decode()
    # Taking the old address back makes it current, no longer an earlier one.
    account_email_replaced(user=customer, old=customer.email, new=old)
    assert list(customer.former_emails.values_list("email", flat=True)) == [
        "alice.moved@example.org"
    ]


def test_my_data_promises_a_copy_only_where_a_store_an_access_request_reaches_holds_it(
    customer_client, settings
):
    """A category no registered store holds cannot come with an access request: the page says
    where to ask instead, and names the stores whose copies a request collects."""
    from dsr.models import DataStore
    from tests.dsr.helpers import add_store

    DataStore.objects.exclude(key="portal").update(enabled=False)
    add_store("shop", "tests.dsr.connectors.FlakyConnector", name="Shop", categories=["orders"])
    add_store(
        "crm",
        "tests.dsr.connectors.FlakyConnector",
        name="CRM",
        categories=["orders", "third_party"],
        config={"actions": ["notify"]},
    )

    page = customer_client.get("/account/data/").content.decode()

    def section(key):
        return page.split(f'id="category-{key}"')[1].split("</section>")[0]

    email = settings.PORTAL_PRIVACY_EMAIL
    assert (
        "Kept in: CRM, Shop. An access request gives you a copy of it, except from CRM: write "
        f"to {email} to ask what they hold about you." in section("orders")
    )
    third = section("third_party")
    assert "Kept in: CRM. This portal cannot copy it from there" in third
    assert "access request" not in third and email in third
    assert "None of the systems this portal reaches holds it" in section("uploads")


def test_my_data_shows_my_marketing_choices_where_i_can_change_them(customer_client, customer):
    """The portal holds them itself: not "kept in Inper's other systems"."""
    from consent.services import consent_record, subject_for_user

    consent_record(
        subject=subject_for_user(customer),
        purpose_key="marketing_sms",
        granted=True,
        source="preference_centre",
        actor=customer,
    )
    page = customer_client.get("/account/data/").content.decode()
    section = page.split('id="category-marketing"')[1].split("</section>")[0]
    assert "<dt>Offers by text message</dt><dd>on</dd>" in section
    assert "<dt>News and offers by e-mail</dt><dd>off</dd>" in section
    assert 'href="/privacy/"' in section
    cookies = page.split('id="category-cookies"')[1].split("</section>")[0]
    assert 'href="/privacy/cookies/"' in cookies


def _session_ends() -> None:
    """The session times out while the person types (the browser keeps its cookie)."""
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))


def _hidden_fields(client, path: str) -> dict[str, str]:
    """What the form on ``path`` sends besides what the person types, as a browser would."""
    page = client.get(path).content.decode()
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


def _sign_in_again(client, response, user) -> tuple[str, str]:
    """Open the sign-in page ``response`` leads to and sign in there as ``user``; return that
    page and where signing in leads back to."""
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    page = client.get(response["Location"]).content.decode()
    signed_in = client.post(response["Location"], {"login": user.email, "password": PASSWORD})
    return page, signed_in["Location"]


def _signed_in_too_long(client) -> None:
    """The session reaches its absolute timeout (hours after signing in) while the person
    types, however active they were."""
    from django.conf import settings

    from privacy_portal.middleware import SESSION_AUTH_AT

    session = client.session
    session[SESSION_AUTH_AT] = int(time.time()) - settings.SESSION_ABSOLUTE_TIMEOUT - 1
    session.save()


@pytest.mark.parametrize("ends", ["idle", "absolute"])
def test_profile_changes_saved_after_the_session_ended_are_kept_for_after_signing_in(
    customer, ends
):
    client = login(Client(), customer)
    hidden = _hidden_fields(client, PROFILE)
    if ends == "idle":
        _session_ends()
    else:
        _signed_in_too_long(client)

    typed = _profile(first_name="Alicia", phone="+49 30 7654321", date_of_birth="1985-03-04")
    response = client.post(PROFILE, {**typed, **hidden})

    # Nothing typed is in the address the person is sent to.
    assert "Alicia" not in response["Location"] and "7654321" not in response["Location"]
    page, back = _sign_in_again(client, response, customer)
    assert "You were signed out. Sign in again to save your changes" in page
    assert "what you typed is kept" in page
    assert back == PROFILE
    customer.refresh_from_db()
    assert customer.first_name == "Alice" and customer.phone == ""  # not saved yet
    form = client.get(PROFILE).content.decode()
    assert 'value="Alicia"' in form and 'value="+49 30 7654321"' in form
    assert 'value="1985-03-04"' in form
    assert "It is not saved yet" in form
    # Once shown, the draft is gone: the page shows what is saved again.
    assert 'value="Alicia"' not in client.get(PROFILE).content.decode()


@pytest.mark.parametrize("editing", [False, True])
def test_an_address_saved_after_the_session_ended_is_kept_for_after_signing_in(customer, editing):
    existing = AddressFactory(user=customer, line1="1 Old Street", city="Berlin")
    path = f"/account/addresses/{existing.pk}/edit/" if editing else "/account/addresses/new/"
    client = login(Client(), customer)
    hidden = _hidden_fields(client, path)
    _session_ends()

    typed = {
        "recipient": "Alice Customer",
        "line1": "5 Lindenstraße",
        "postal_code": "14467",
        "city": "Potsdam",
        "country": "DE",
    }
    response = client.post(path, {**typed, **hidden})

    page, back = _sign_in_again(client, response, customer)
    assert "what you typed is kept" in page
    assert back == path
    assert list(Address.objects.filter(user=customer).values_list("line1", flat=True)) == [
        "1 Old Street"
    ]
    form = client.get(path).content.decode()
    assert 'value="5 Lindenstraße"' in form and 'value="Potsdam"' in form
    assert "It is not saved yet" in form


def test_a_draft_is_not_shown_to_someone_else_who_signs_in_next_in_the_same_browser(
    customer, other_customer
):
    client = login(Client(), customer)
    hidden = _hidden_fields(client, PROFILE)
    _session_ends()
    response = client.post(PROFILE, {**_profile(phone="+49 30 7654321"), **hidden})

    _page, back = _sign_in_again(client, response, other_customer)

    form = client.get(back).content.decode()
    assert "7654321" not in form and "It is not saved yet" not in form
    assert 'value="Bob"' in form


def _session_data() -> list[dict]:
    return [session.get_decoded() for session in Session.objects.all()]


def test_someone_else_signing_in_next_does_not_take_the_draft_into_their_session(
    customer, other_customer
):
    """Signing in keeps what the browser's session held: a draft that another account wrote
    must not go along into the new account's session, where the writer's erasure would not
    find it (it deletes the writer's own sessions) and it would stay until that one ends."""
    client = login(Client(), customer)
    hidden = _hidden_fields(client, PROFILE)
    _session_ends()
    response = client.post(PROFILE, {**_profile(phone="+49 30 7654321"), **hidden})

    _page, _back = _sign_in_again(client, response, other_customer)
    client.get("/requests/")  # elsewhere: the profile page, which would drop it, is not opened

    assert "7654321" not in str(_session_data())
    # The writer's own draft goes along with the writer.
    client = login(Client(), customer)
    _session_ends()
    response = client.post(PROFILE, {**_profile(phone="+49 30 1112223"), **hidden})
    _sign_in_again(client, response, customer)
    assert "1112223" in str(_session_data())
    assert 'value="+49 30 1112223"' in client.get(PROFILE).content.decode()


def test_a_session_keeps_the_drafts_of_a_few_pages_only(customer):
    """Anyone can send forms to the pages that keep drafts without being signed in: the
    session they are kept in (a database row, read and written on every request) holds the
    newest few, not as many as someone cares to send."""
    client = login(Client(), customer)
    hidden = _hidden_fields(client, PROFILE)
    _session_ends()
    typed = {"recipient": "R", "line1": "x" * 190, "postal_code": "1", "city": "C"}
    for pk in range(1, 13):
        client.post(f"/account/addresses/{pk}/edit/", {**typed, "city": f"City{pk}", **hidden})
    response = client.post(PROFILE, {**_profile(phone="+49 30 7654321"), **hidden})

    [data] = [data for data in _session_data() if "_auth_user_id" not in data]
    assert len([key for key in data if key.startswith("form-draft:")]) == 5
    assert "City1'" not in str(data) and "City12'" in str(data)
    _sign_in_again(client, response, customer)
    assert 'value="+49 30 7654321"' in client.get(PROFILE).content.decode()


def test_a_script_cannot_fill_sessions_with_drafts(customer):
    """Each form sent without a session starts one: a draft larger than any form is not kept,
    and one client address leaves only so many drafts an hour, however many sessions it
    starts. The person is still sent to sign in, told to send the form again."""
    client = login(Client(), customer)
    hidden = _hidden_fields(client, "/requests/new/")
    _session_ends()

    # A use of data named by a million characters: kept only as long as a key can be.
    huge = ["x" * 1_000_000, "y" * 1_000_000]
    response = Client().post("/requests/new/", {**hidden, "type": "access", "purposes": huge})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    kept = str(_session_data())
    assert "x" * 64 in kept and "x" * 65 not in kept and len(kept) < 5000

    # Every field of the profile as long as a draft keeps one: more than the form takes.
    crammed = dict.fromkeys(_profile(), "z" * 5000)
    response = Client().post(PROFILE, {**crammed, **hidden})
    assert response.status_code == 302 and "zzzz" not in str(_session_data())

    per_hour = int(DRAFT_RATE.split("/")[0])
    for _attempt in range(per_hour + 5):
        late = Client()
        response = late.post(PROFILE, {**_profile(phone="+49 30 7654321"), **hidden})
        assert response.status_code == 302
    drafts = [data for data in _session_data() if any(k.startswith("form-draft:") for k in data)]
    assert len(drafts) == per_hour
    page = late.get(response["Location"]).content.decode()
    assert "Sign in again, then fill in the form again and send it." in page


def _later(minutes: int) -> None:
    """``minutes`` pass: every session, and every draft kept in one, is that much older."""
    for session in Session.objects.all():
        data = session.get_decoded()
        for key, kept in data.items():
            if key.startswith("form-draft:"):
                kept["until"] -= minutes * 60
        session.session_data = Session.get_session_store_class()().encode(data)
        session.expire_date -= timedelta(minutes=minutes)
        session.save()


def test_a_draft_waits_the_promised_hour_for_the_person_to_sign_in_again(customer, settings):
    """Sent back to sign in, the person may come back later than the idle timeout of a
    session (30 minutes): what they typed is kept for an hour, as the sign-in page says; the
    session they then sign in with times out as any other."""
    client = login(Client(), customer)
    hidden = _hidden_fields(client, PROFILE)
    _session_ends()
    response = client.post(PROFILE, {**_profile(phone="+49 30 7654321"), **hidden})

    _later(45)
    _sign_in_again(client, response, customer)

    assert 'value="+49 30 7654321"' in client.get(PROFILE).content.decode()
    signed_in = Session.objects.get(user_id=customer.pk, expire_date__gt=timezone.now())
    idle = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert signed_in.expire_date <= timezone.now() + idle


def test_a_form_sent_in_another_encoding_is_refused_and_utf_8_is_kept(customer_client, customer):
    """Django reads bytes that are not UTF-8 as replacement characters ("M\ufffdller"): such a
    form (Latin-1 here, raw or percent-escaped) is refused with the 400 page, and nothing is
    saved; the same name in UTF-8 is kept as typed."""
    from urllib.parse import urlencode

    valid = {k: v for k, v in _profile().items() if k != "first_name"}
    rest = urlencode(valid).encode()
    for latin1 in (b"first_name=M%FCller&", b"first_name=M\xfcller&"):
        refused = customer_client.generic(
            "POST", PROFILE, latin1 + rest, content_type="application/x-www-form-urlencoded"
        )
        assert refused.status_code == 400
        customer.refresh_from_db()
        assert "\ufffd" not in customer.first_name
    # The same in a multipart body (as a form with a file sends it): refused too.
    boundary = "form-boundary"
    fields = [(name, value.encode()) for name, value in valid.items()]
    fields.append(("first_name", b"M\xfcller"))
    multipart = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value
            + b"\r\n"
            for name, value in fields
        )
        + f"--{boundary}--\r\n".encode()
    )
    refused = customer_client.generic(
        "POST", PROFILE, multipart, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert refused.status_code == 400
    customer.refresh_from_db()
    assert "\ufffd" not in customer.first_name
    for utf8 in (b"first_name=M%C3%BCller&", "first_name=Müller&".encode()):
        saved = customer_client.generic(
            "POST", PROFILE, utf8 + rest, content_type="application/x-www-form-urlencoded"
        )
        assert saved.status_code == 302
        customer.refresh_from_db()
        assert customer.first_name == "Müller"


@pytest.mark.parametrize(
    ("typed", "region", "stored"),
    [
        ("0049 170 1234568", "", "+491701234568"),  # the international prefix for the "+"
        ("0049-30-123 456 78", "", "+493012345678"),
        ("+49 (0)30 12345678", "", "+493012345678"),  # the national zero in brackets
        ("0170 1234569", "DE", "+491701234569"),
    ],
)
def test_phone_numbers_as_people_write_them_are_understood(typed, region, stored):
    from accounts.validators import normalise_phone

    assert normalise_phone(typed, region=region) == stored


def test_a_national_number_without_its_country_is_asked_for_again():
    from django.core.exceptions import ValidationError

    from accounts.validators import normalise_phone

    with pytest.raises(ValidationError, match="with its country code"):
        normalise_phone("0170 1234569")


def _add_address(client, postal_code, country):
    typed = {"recipient": "R", "line1": "1 Road", "city": "C", "country": country}
    return client.post("/account/addresses/new/", {**typed, "postal_code": postal_code})


@pytest.mark.parametrize(
    ("country", "typed", "kept"),
    [
        ("DE", " 10115 ", "10115"),
        ("GB", "sw1a1aa", "SW1A 1AA"),
        ("NL", "1012ab", "1012 AB"),
        ("SE", "11122", "111 22"),
        ("IE", "d02x285", "D02 X285"),
        ("US", "94105-1234", "94105-1234"),
        ("BR", "01310-100", "01310-100"),  # a country without a rule: as typed
    ],
)
def test_a_postal_code_is_kept_as_its_country_writes_it(
    customer_client, customer, country, typed, kept
):
    response = _add_address(customer_client, typed, country)
    assert response.status_code == 302, response.content.decode()[:500]
    assert customer.addresses.get(line1="1 Road").postal_code == kept


@pytest.mark.parametrize(("country", "typed"), [("DE", "ABCDE"), ("DE", "1234"), ("US", "1234")])
def test_a_postal_code_that_cannot_be_the_countrys_is_refused_with_an_example(
    customer_client, customer, country, typed
):
    before = customer.addresses.count()
    response = _add_address(customer_client, typed, country)
    assert response.status_code == 400
    assert "This postal code does not fit the country chosen" in response.content.decode()
    assert customer.addresses.count() == before


def test_the_same_address_twice_is_refused(customer_client, customer):
    typed = {"recipient": "Ann Lee", "line1": "1 Road", "postal_code": "10115", "city": "Berlin"}
    first = customer_client.post("/account/addresses/new/", {**typed, "country": "DE"})
    assert first.status_code == 302
    again = customer_client.post(
        "/account/addresses/new/",
        {**typed, "recipient": "ann  LEE", "label": "Home", "country": "DE"},
    )
    assert again.status_code == 400
    assert "This address is in your address book already." in again.content.decode()
    assert customer.addresses.filter(line1="1 Road").count() == 1
