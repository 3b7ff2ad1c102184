"""Staff: support records choices on a person's behalf; compliance reads the ledger and exports
it; nobody can change or delete an event; superusers publish texts and policy versions."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django.utils.formats import date_format

from consent import services
from consent.catalogue import catalogue
from consent.models import ConsentEvent, ConsentState, PolicyVersion, Purpose, PurposeKind
from privacy_portal.audit.models import AuditEvent
from tests.consent.conftest import record
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
RECORD = "/admin/consent/consentstate/record/"


def test_support_records_a_phone_opt_out_with_a_note(support_client, support_user, customer):
    record(customer, "marketing_phone", True)
    response = support_client.post(
        RECORD,
        {
            "email": customer.email,
            "purpose": "marketing_phone",
            "decision": "withdraw",
            "received_via": "phone",
            "note": "call of 12 November",
        },
    )
    assert response.status_code == 302
    event = ConsentEvent.objects.latest("id")
    assert (event.granted, event.source, event.actor_type, event.actor_id) == (
        False,
        "staff",
        "staff",
        support_user.pk,
    )
    assert event.note == "call of 12 November" and event.evidence["received_via"] == "phone"
    # Not the staff member's browser as if it were the person's.
    assert event.ip_truncated == "" and event.user_agent_hash == ""
    assert AuditEvent.objects.filter(action="consent.recorded", actor_id=support_user.pk).exists()


def test_a_choice_told_days_before_it_was_recorded_keeps_its_own_day(
    support_client, compliance_client, customer, client
):
    """A card from a trade show, typed in days later: the withdrawal counts from now, and the
    ledger, its export and the person's history keep the day the person told Inper."""
    record(customer, "marketing_sms", True)
    form = {
        "email": customer.email,
        "purpose": "marketing_sms",
        "decision": "withdraw",
        "received_via": "in_person",
        "note": "trade show in Cologne",
    }
    today = timezone.localdate()
    page = support_client.get(RECORD).content.decode()
    assert 'type="date" name="received_on"' in page and f'max="{today.isoformat()}"' in page
    for wrong, said in (
        (today + timedelta(days=1), "The day cannot be in the future."),
        (today - timedelta(days=400), "The day must be within the last year."),
        ("last week", "Enter a valid date."),
    ):
        refused = support_client.post(RECORD, {**form, "received_on": str(wrong)})
        assert refused.status_code == 200 and said in refused.content.decode()
        assert "trade show in Cologne</textarea>" in refused.content.decode()  # kept
    assert ConsentState.objects.get(subject__user=customer, purpose__key="marketing_sms").granted

    told = today - timedelta(days=4)
    assert support_client.post(RECORD, {**form, "received_on": told.isoformat()}).status_code == 302
    event = ConsentEvent.objects.latest("id")
    assert (event.granted, event.note) == (False, "trade show in Cologne")
    assert event.evidence == {"received_via": "in_person", "received_on": told.isoformat()}
    assert event.received_on == told
    export = compliance_client.get("/admin/consent/consentevent/export.csv?source__exact=staff")
    [row] = csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    assert (row["granted"], row["received_via"], row["received_on"]) == (
        "withdrawn",
        "in_person",
        told.isoformat(),
    )

    client.force_login(customer)
    history = client.get("/privacy/history/").content.decode()
    said = date_format(told, "DATE_FORMAT")
    assert f"Our staff, as you told them on {said}" in history

    # Recorded the day it was told: the history says nothing more.
    support_client.post(RECORD, {**form, "decision": "stop_marketing", "received_on": ""})
    assert ConsentEvent.objects.latest("id").received_on is None
    assert client.get("/privacy/history/").content.decode().count("as you told them on") == 1


def test_support_records_a_trade_show_contact_and_stop_all(
    support_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        support_client.post(
            RECORD,
            {
                "email": "visitor@tradeshow.example",
                "purpose": "marketing_phone",
                "decision": "grant",
                "received_via": "in_person",
            },
        )
    # Consent given in person counts once the person confirms it by e-mail.
    assert not ConsentEvent.objects.filter(granted=True).exists()
    [message] = mail.outbox
    assert message.to == ["visitor@tradeshow.example"]
    assert "Inper's support team recorded that you agree" in message.body
    link = re.search(r"https?://[^/\s]+(/privacy/confirm/[^\s]+/)", message.body).group(1)
    page = support_client.get(link).content.decode()
    assert "Please confirm that you do." in page and "Inper news" not in page
    support_client.post(link)
    granted = ConsentEvent.objects.get(granted=True)
    assert (granted.source, granted.purpose.key) == ("staff", "marketing_phone")
    assert "double_opt_in" in granted.evidence
    assert len(mail.outbox) == 1  # no newsletter welcome for a phone channel

    support_client.post(
        RECORD,
        {
            "email": "visitor@tradeshow.example",
            "decision": "stop_marketing",
            "received_via": "email",
        },
    )
    states = {s.purpose.key: s.granted for s in ConsentState.objects.all()}
    assert states["marketing_phone"] is False and states["marketing_post"] is False
    assert ConsentState.objects.values("subject").distinct().count() == 1

    # Support finds the contact again by the address (kept only as a keyed hash), in any case,
    # and nobody else's choices with it.
    record(UserFactory(email="someone.else@example.com"), "marketing_phone", True)
    searched = support_client.get(
        "/admin/consent/consentstate/", {"q": " Visitor@TradeShow.example "}
    )
    page = support_client.get(searched["Location"]).content.decode()
    subject = ConsentState.objects.filter(subject__email_hash__isnull=False).first().subject_id
    shown = re.findall(r'<td class="field-subject_number">(\d+)</td>', page) or re.findall(
        r'<th class="field-subject_number">.*?>(\d+)<', page
    )
    assert shown and set(shown) == {str(subject)}


@pytest.mark.parametrize(
    ("on", "said"),
    [
        ((), "0 channels were on"),
        (("marketing_phone",), "1 channel was on"),
        (("marketing_phone", "marketing_post"), "2 channels were on"),
    ],
)
def test_stopping_all_marketing_says_how_many_channels_were_on(support_client, on, said):
    email = "visitor@tradeshow.example"
    subject = services.subject_for_email(email)
    for purpose in catalogue().of_kind(PurposeKind.MARKETING):  # some are on by default
        record(subject, purpose.key, purpose.key in on)
    response = support_client.post(
        RECORD,
        {"email": email, "decision": "stop_marketing", "received_via": "phone"},
        follow=True,
    )
    assert f"Recorded: all marketing stopped ({said})." in response.content.decode()


def test_support_granting_email_marketing_sends_a_confirmation_first(
    support_client, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        support_client.post(
            RECORD,
            {
                "email": customer.email,
                "purpose": "marketing_email",
                "decision": "grant",
                "received_via": "phone",
            },
        )
    assert not ConsentEvent.objects.exists()
    assert mail.outbox[-1].to == [customer.email]


def test_customers_and_compliance_cannot_record_on_behalf(customer_client, compliance_client):
    assert customer_client.get(RECORD).status_code in (302, 403)
    assert compliance_client.get(RECORD).status_code == 403


def test_compliance_reads_filters_and_exports_the_ledger(
    compliance_client, customer, other_customer
):
    record(customer, "surveys", True)
    record(customer, "international_transfers", False, source="preference_centre")
    listing = compliance_client.get("/admin/consent/consentevent/?source__exact=preference_centre")
    assert listing.status_code == 200
    objections = compliance_client.get("/admin/consent/consentstate/?objection=transfers")
    assert objections.status_code == 200
    # Each choice's link reads as words (the purpose's title), not a bare number.
    title = catalogue().by_key["international_transfers"].title("en")
    assert re.search(
        rf'<a href="[^"]+">{re.escape(title)} \(international_transfers\)</a>',
        objections.content.decode(),
    )
    # The ledger too names each choice in words, the customer by a link to their account,
    # and its filter lists the purposes by what they are called.
    ledger = compliance_client.get("/admin/consent/consentevent/").content.decode()
    assert f"{title} (international_transfers)" in ledger
    assert f'<a href="/admin/accounts/user/{customer.pk}/change/">Customer {customer.pk}</a>' in (
        ledger
    )
    surveys = catalogue().by_key["surveys"].title("en")
    assert re.search(
        rf'<a href="\?purpose__id__exact=\d+">{re.escape(surveys)} \(surveys\)</a>', ledger
    )

    export = compliance_client.get("/admin/consent/consentevent/export.csv?source__exact=api")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [(r["purpose"], r["granted"], r["source"]) for r in rows] == [
        ("surveys", "granted", "api")
    ]
    assert customer.email not in str(rows)
    assert AuditEvent.objects.filter(action="consent.ledger.exported").exists()

    # Searched by the person's address: the list and its export link name the search by a
    # key, and the export holds that person's events only.
    record(other_customer, "surveys", True)
    searched = compliance_client.get("/admin/consent/consentevent/", {"q": customer.email})
    assert searched.status_code == 302 and "%40" not in searched["Location"]
    page = compliance_client.get(searched["Location"]).content.decode()
    link = re.search(r'href="(/admin/consent/consentevent/export\.csv\?[^"]*)"', page).group(1)
    assert "s=" in link and customer.email not in link and "%40" not in link
    export = compliance_client.get(link.replace("&amp;", "&"))
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert {r["customer_id"] for r in rows} == {str(customer.pk)} and len(rows) == 2


def test_no_staff_screen_can_add_change_or_delete_an_event(superuser_client, customer):
    event = record(customer, "surveys", True)
    base = "/admin/consent/consentevent/"
    assert superuser_client.get(f"{base}add/").status_code == 403
    assert superuser_client.post(f"{base}{event.pk}/change/", {"granted": ""}).status_code == 403
    assert superuser_client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert superuser_client.get(f"{base}{event.pk}/change/").status_code == 200
    assert superuser_client.post(
        "/admin/consent/consentstate/1/delete/", {"post": "yes"}
    ).status_code in (403, 404)
    event.refresh_from_db()
    assert event.granted


def test_support_cannot_read_the_ledger(support_client):
    assert support_client.get("/admin/consent/consentevent/").status_code == 403
    assert support_client.get("/admin/consent/consentevent/export.csv").status_code == 403


def test_changing_a_purpose_text_in_the_admin_makes_a_new_version(superuser_client):
    purpose = Purpose.objects.get(key="surveys")
    data = {
        "key": "surveys",
        "kind": "processing",
        "channel": "",
        "legal_basis": "consent",
        "position": purpose.position,
        "is_active": "on",
        "title_en": "Customer surveys",
        "description_en": "Short surveys, now also by phone.",
        "title_de": "Kundenumfragen",
        "description_de": "Kurze Umfragen, jetzt auch per Telefon.",
        "material": "on",
        "change_summary": "also by phone",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    response = superuser_client.post(f"/admin/consent/purpose/{purpose.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    purpose.refresh_from_db()
    assert purpose.current_version.version == 2 and purpose.current_version.material
    assert (
        purpose.versions.get(version=1).texts["en"]["description"]
        != "Short surveys, now also by phone."
    )


def test_publishing_a_material_policy_version_shows_a_notice_once(
    superuser_client, customer_client, customer
):
    response = superuser_client.post(
        "/admin/consent/policyversion/add/",
        {
            "document": "privacy_statement",
            "material": "on",
            "body": "## New\nWe now also use a new parcel carrier.",
            "summary_en": "New parcel carrier.",
            "summary_de": "Neuer Paketdienst.",
        },
    )
    assert response.status_code == 302
    policy = PolicyVersion.objects.get(document="privacy_statement", version=2)
    page = customer_client.get("/account/").content.decode()
    assert "We changed our privacy statement" in page and "New parcel carrier." in page

    customer_client.post(f"/privacy/notices/{policy.pk}/seen/", {"next": "/account/"})
    assert "We changed our" not in customer_client.get("/account/").content.decode()

    statement = customer_client.get("/privacy/statement/").content.decode()
    assert "new parcel carrier" in statement and "Version 1" in statement
    old = customer_client.get("/privacy/statement/v1/").content.decode()
    assert "no longer in force" in old and "Children" in old


@pytest.mark.parametrize(
    "query",
    [
        "granted__exact=maybe",
        "occurred_at__year=last",
        "occurred_at__gte=not-a-date",
        "purpose__id__exact=surveys",
        "no_such_field=1",
    ],
)
def test_an_export_with_a_filter_the_ledger_cannot_apply_is_answered_as_the_list_answers_it(
    compliance_client, customer, query
):
    record(customer, "surveys", True)
    listing = compliance_client.get(f"/admin/consent/consentevent/?{query}")
    export = compliance_client.get(f"/admin/consent/consentevent/export.csv?{query}")

    assert listing.status_code == export.status_code == 302
    assert export["Location"] == listing["Location"] == "/admin/consent/consentevent/?e=1"
    # Nothing was exported, so no export is recorded.
    assert not AuditEvent.objects.filter(action="consent.ledger.exported").exists()


def test_support_stops_texts_to_a_number_given_without_an_e_mail_address(
    support_client, support_user
):
    """A trade-show contact asks, by phone, for no more text messages: no e-mail address, only
    the number. It goes on the do-not-contact list (as a keyed hash), and the account that has
    it stops receiving them too; a consent cannot be given by a number alone."""
    from consent.models import SuppressionEntry
    from consent.selectors import suppressed_channels

    account = UserFactory(phone="+4915112345678")
    record(account, "marketing_sms", True)
    response = support_client.post(
        RECORD,
        {
            "phone": "+49 151 1234 5678",
            "purpose": "marketing_sms",
            "decision": "withdraw",
            "received_via": "phone",
            "note": "call of 3 December",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert suppressed_channels(phone="+4915112345678") == ["sms"]
    assert not SuppressionEntry.objects.filter(address_hash__contains="4915112345678").exists()
    event = ConsentEvent.objects.latest("id")
    assert (event.subject.user_id, event.granted, event.source) == (account.pk, False, "staff")
    audited = AuditEvent.objects.get(action="consent.number_suppressed")
    assert audited.actor_id == support_user.pk and "4915112345678" not in str(audited.after)

    number = "+4915112345678"
    for data, error in (
        ({"phone": number, "purpose": "marketing_sms", "decision": "grant"}, "alone"),
        ({"phone": number, "purpose": "marketing_email", "decision": "withdraw"}, "alone"),
        ({"phone": "0151 1234", "purpose": "marketing_sms", "decision": "withdraw"}, "country"),
        ({"purpose": "marketing_sms", "decision": "withdraw"}, "e-mail address or phone number"),
    ):
        before = ConsentEvent.objects.count(), SuppressionEntry.objects.count()
        refused = support_client.post(RECORD, {**data, "received_via": "phone"})
        assert refused.status_code == 200 and error in refused.content.decode(), data
        assert (ConsentEvent.objects.count(), SuppressionEntry.objects.count()) == before

    # Stopping all marketing by number stops calls too.
    support_client.post(
        RECORD, {"phone": "+4930901820", "decision": "stop_marketing", "received_via": "in_person"}
    )
    assert suppressed_channels(phone="+4930901820") == ["sms", "phone"]

    # When the person calls back, support can tell them it was recorded, by the number as
    # they say it; another number is not on the list, and nothing is listed to browse.
    check = "/admin/consent/consentstate/do-not-contact/"
    assert (
        "Check the do-not-contact list"
        in support_client.get("/admin/consent/consentstate/").content.decode()
    )
    page = support_client.post(check, {"address": "+49 30 901820"}).content.decode()
    assert "On the do-not-contact list for text messages since" in page
    assert "On the do-not-contact list for marketing calls since" in page
    page = support_client.post(check, {"address": "+49 151 1234 5678"}).content.decode()
    assert "for text messages" in page and "marketing calls" not in page
    page = support_client.post(check, {"address": "+49 30 901821"}).content.decode()
    assert "Not on the do-not-contact list." in page
    # Told at a trade show last week and recorded today: since the day the person told us.
    told = timezone.localdate() - timedelta(days=6)
    support_client.post(
        RECORD,
        {
            "phone": "+4930901822",
            "decision": "stop_marketing",
            "received_via": "in_person",
            "received_on": told.isoformat(),
        },
    )
    page = support_client.post(check, {"address": "+49 30 901822"}).content.decode()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert (
        f"On the do-not-contact list for text messages since {date_format(told, 'DATE_FORMAT')}, "
        "the day the person told us (recorded"
    ) in text
    assert support_client.post(check, {"address": "0151 1234"}).status_code == 400
    # The empty form; a number in the URL is not looked up (it would stay in logs).
    assert "Result" not in support_client.get(check, {"address": "+49 30 901820"}).content.decode()


def test_an_objection_support_records_reaches_the_systems_that_use_the_data(
    client, support_client, customer, django_capture_on_commit_callbacks
):
    """Recorded by support, an objection to transfers abroad does what the customer's own
    switching off does: the choice counts at once, and a request tells the systems that
    transfer the data, once the person confirms it from the e-mail (anyone can phone)."""
    from dsr.models import DataSubjectRequest, RequestType, State
    from tests.dsr.helpers import add_store

    add_store("crm", "manual", config={"purpose_keys": ["international_transfers"]})
    data = {
        "email": customer.email,
        "purpose": "international_transfers",
        "decision": "withdraw",
        "received_via": "phone",
        "note": "call of 3 December",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(RECORD, data, follow=True)

    objection = DataSubjectRequest.objects.get()
    assert (objection.type, objection.purposes, objection.channel, objection.state) == (
        RequestType.OBJECTION,
        ["international_transfers"],
        "phone",
        State.AWAITING_IDENTITY,
    )
    assert f"told by request {objection.reference}, once the person confirms" in (
        response.content.decode()
    )
    state = ConsentState.objects.get(purpose__key="international_transfers")
    assert state.granted is False
    # Recording it again files nothing more while the objection is open.
    support_client.post(RECORD, data)
    assert DataSubjectRequest.objects.count() == 1

    (link,) = {
        found
        for message in mail.outbox
        for found in re.findall(r"https?://[^/\s]+(/requests/verify/\S+/)", message.body)
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(link)
    objection.refresh_from_db()
    assert objection.user_id == customer.pk  # found under their account's requests
    assert objection.tasks.filter(store__key="crm", action="restrict").exists()


def test_a_withdrawal_no_other_system_acts_on_files_no_request(support_client, customer):
    support_client.post(
        RECORD,
        {
            "email": customer.email,
            "purpose": "international_transfers",
            "decision": "withdraw",
            "received_via": "phone",
        },
    )
    from dsr.models import DataSubjectRequest

    assert not DataSubjectRequest.objects.exists()
    assert ConsentState.objects.get(purpose__key="international_transfers").granted is False


def test_the_record_form_sent_back_names_its_groups_and_ties_help_to_fields(support_client):
    response = support_client.post(RECORD, {"email": "", "purpose": "", "note": ""})
    page = response.content.decode()

    assert response.status_code == 200 and not ConsentEvent.objects.exists()
    assert "Please correct the errors below." in page
    # The choice is a named group with its error inside it, and each help text has the id
    # its field points to.
    assert re.search(r"<fieldset[^>]*><legend>Their choice:</legend>\s*<ul class=\"errorlist", page)
    for described in re.findall(r'aria-describedby="([^"]+)"', page):
        for part in described.split():
            assert f'id="{part}"' in page, part
    assert "js/portal.js" in page  # takes focus to the first field to correct


def test_a_phone_opt_out_without_a_number_asks_for_the_number(support_client):
    def recorded(purpose):
        data = {
            "email": "dana.new@example.com",
            "purpose": purpose,
            "decision": "withdraw",
            "received_via": "phone",
        }
        response = support_client.post(RECORD, data, follow=True)
        return " ".join(str(message) for message in response.context["messages"])

    assert "No phone number was given" in recorded("marketing_phone")
    event = ConsentEvent.objects.get()
    assert (event.purpose.key, event.granted) == ("marketing_phone", False)
    # An e-mail opt-out needs no number.
    assert "No phone number was given" not in recorded("marketing_email")


def test_an_objection_told_days_before_files_its_request_as_received_that_day(
    support_client, customer
):
    """Support records an objection to transfers abroad, told on a card days ago: the request
    that tells the group CRM counts its deadline from that day."""
    from dsr.deadlines import due_at
    from dsr.models import DataSubjectRequest
    from tests.dsr.helpers import add_store

    add_store(
        "crm",
        "tests.dsr.connectors.RestrictingConnector",
        config={"purpose_keys": ["international_transfers"]},
    )
    told = timezone.localdate() - timedelta(days=6)
    response = support_client.post(
        RECORD,
        {
            "email": customer.email,
            "purpose": "international_transfers",
            "decision": "withdraw",
            "received_via": "letter",
            "received_on": told.isoformat(),
        },
        follow=True,
    )
    assert "tells Inper's other systems" in response.content.decode() or (
        "once the person confirms it" in response.content.decode()
    )
    filed = DataSubjectRequest.objects.get(type="objection")
    assert (filed.channel, timezone.localdate(filed.received_at)) == ("post", told)
    assert filed.due_at == due_at(filed.regime, filed.received_at)


def test_stop_all_said_to_support_is_on_record_for_every_channel_and_found_again(support_client):
    """A new trade-show contact says "no marketing at all": a withdrawal is recorded for every
    marketing channel, not only for the one on by default, and the do-not-contact check shows
    them when the person asks later (no address on the list: the choices are the record)."""
    email = "new.contact@tradeshow.example"
    response = support_client.post(
        RECORD,
        {"email": email, "decision": "stop_marketing", "received_via": "in_person"},
        follow=True,
    )
    assert "(1 channel was on)" in response.content.decode()  # post, on by default
    marketing = {p.key for p in catalogue().of_kind(PurposeKind.MARKETING)}
    events = ConsentEvent.objects.filter(subject__email_hash__isnull=False)
    assert {e.purpose.key for e in events} == marketing
    assert not any(e.granted for e in events) and {e.source for e in events} == {"staff"}

    check = "/admin/consent/consentstate/do-not-contact/"
    page = support_client.post(check, {"address": email.upper()}).content.decode()
    # What support tells the person first: no marketing reaches them.
    summary = page.split("<h2>Result</h2>", 1)[1].split("Not on the do-not-contact list.")[0]
    assert "No marketing: every marketing choice recorded for it is off." in summary
    assert "Not on the do-not-contact list." in page
    result = page.split("Marketing choices recorded for it", 2)[2]
    for key in marketing:
        assert catalogue().by_key[key].title("en") in result
    assert result.count("<strong>Off</strong>") == len(marketing)
    assert "Record a choice on a person" not in result

    # Said again: nothing new to record, nothing recorded twice.
    before = events.count()
    support_client.post(
        RECORD, {"email": email, "decision": "stop_marketing", "received_via": "phone"}
    )
    assert events.count() == before

    # Another address: nothing recorded, nothing found.
    page = support_client.post(check, {"address": "someone.else@example.org"}).content.decode()
    assert "nothing the person said about marketing is recorded" in page
    assert "Record a choice on a person" in page


def test_the_check_by_number_shows_the_text_and_call_choices_of_accounts_with_it(
    support_client,
):
    account = UserFactory(phone="+4915112345679")
    record(account, "marketing_sms", False)
    record(account, "marketing_email", False)
    page = support_client.post(
        "/admin/consent/consentstate/do-not-contact/", {"address": "+49 151 1234 5679"}
    ).content.decode()
    result = page.split("Marketing choices recorded for it", 2)[2]
    assert f"Account #{account.pk}" in result
    assert catalogue().by_key["marketing_sms"].title("en") in result
    assert catalogue().by_key["marketing_email"].title("en") not in result


def test_the_record_form_makes_support_choose_the_purpose(support_client, customer):
    """Nothing is chosen for support: a withdrawal sent without a purpose is refused, not
    recorded for whichever purpose came first."""
    page = support_client.get(RECORD).content.decode()
    assert re.search(r'<option value="" selected>Choose…</option>', page)
    assert "In person or at a trade show" in page and ">Post<" in page
    refused = support_client.post(
        RECORD, {"email": customer.email, "decision": "withdraw", "received_via": "phone"}
    )
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    assert not ConsentEvent.objects.exists()


def test_the_do_not_contact_check_says_first_which_marketing_the_person_agreed_to(
    support_client, customer
):
    record(customer, "marketing_email", True, source="preference_centre")
    record(customer, "marketing_sms", False, source="preference_centre")
    check = "/admin/consent/consentstate/do-not-contact/"
    page = support_client.post(check, {"address": customer.email}).content.decode()
    summary = page.split("<h2>Result</h2>", 1)[1].split("Not on the do-not-contact list.")[0]
    title = catalogue().by_key["marketing_email"].title("en")
    assert f"They agreed to: {title}." in summary
    assert "No marketing" not in summary
