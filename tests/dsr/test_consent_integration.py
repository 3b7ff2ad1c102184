"""Requests and the consent centre: objections and withdrawals land in the ledger at once;
access packages carry the consent history; erasure detaches the person from the ledger."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from django.core import mail

from consent.catalogue import catalogue
from consent.cookie import banner_cookie_parse
from consent.models import ConsentEvent, ConsentSubject
from consent.selectors import consent_granted
from consent.services import (
    consent_link_visitor,
    consent_record,
    subject_for_email,
    subject_for_user,
    subject_for_visitor,
    suppression_has,
)
from dsr.models import DataSubjectRequest, State
from dsr.services import dsr_request_approve, dsr_request_verify_email
from privacy_portal.pseudonymise import email_hash
from tests.dsr.helpers import file_request, open_package, run_pending_tasks

pytestmark = pytest.mark.django_db


def _grant(subject, key):
    consent_record(
        subject=subject, purpose_key=key, granted=True, source="preference_centre", actor=None
    )


def test_an_objection_to_marketing_withdraws_at_once_in_the_ledger(customer_client, customer):
    subject = subject_for_user(customer)
    _grant(subject, "marketing_sms")
    assert consent_granted(subject, "marketing_sms")

    customer_client.post("/requests/new/", {"type": "objection", "purposes": ["marketing_sms"]})

    assert not consent_granted(subject, "marketing_sms")
    event = ConsentEvent.objects.filter(subject=subject).latest("occurred_at")
    assert (event.source, event.granted, event.purpose.key) == ("request", False, "marketing_sms")
    page = customer_client.get("/privacy/").content.decode()
    assert "marketing_sms" in page or "text message" in page.lower()


def test_a_done_objection_does_not_say_nothing_was_found_about_the_person(
    customer, django_capture_on_commit_callbacks
):
    """An objection changes how the data is used: "we found nothing about you" would be
    wrong, whatever the stores it went to hold (here: the one it went to holds nothing)."""
    from dsr.models import DataStore
    from tests.dsr.helpers import add_store

    DataStore.objects.update(enabled=False)
    add_store(
        "sms",
        "tests.dsr.connectors.RestrictingConnector",
        config={"purpose_keys": ["marketing_sms"], "holds_nothing": True},
    )
    with django_capture_on_commit_callbacks(execute=True):
        done = run_pending_tasks(
            file_request(type="objection", user=customer, purposes=("marketing_sms",))
        )
    assert done.state == State.COMPLETED and done.outcome == "done"
    letters = [m.body for m in mail.outbox if done.reference in m.subject]
    assert letters and not any("found nothing about you" in body for body in letters)


@pytest.mark.parametrize("signed_in", [True, False])
def test_withdrawing_analytics_cookies_by_request_turns_them_off_in_this_browser(
    client, customer, signed_in
):
    client.post("/privacy/cookies/", {"action": "accept_all"})
    if signed_in:
        client.force_login(customer)
    data = {"type": "withdraw_consent", "purposes": ["analytics"]}
    if not signed_in:
        data["email"] = "visitor@example.com"

    client.post("/requests/new/", data)

    # The cookie settings, and the banner script reading the cookie, show analytics off.
    cookie = banner_cookie_parse(client.cookies["inper_consent"].value)
    assert cookie.granted == {"necessary", "preferences", "marketing"}
    page = client.get("/privacy/cookies/").content.decode()
    assert 'name="analytics" id="id_analytics" role="switch" checked' not in page
    assert not consent_granted(
        ConsentSubject.objects.get(visitor_id=cookie.visitor_id), "analytics"
    )


def test_a_withdrawal_by_request_on_a_shared_browser_stays_out_of_the_other_account(
    client, customer, other_customer
):
    from tests.factories import PASSWORD

    client.post("/privacy/cookies/", {"action": "accept_all"})
    client.post("/accounts/login/", {"login": other_customer.email, "password": PASSWORD})
    client.post("/accounts/logout/")
    client.force_login(customer)

    client.post("/requests/new/", {"type": "withdraw_consent", "purposes": ["analytics"]})

    cookie = banner_cookie_parse(client.cookies["inper_consent"].value)
    assert "analytics" not in cookie.granted
    assert not ConsentEvent.objects.filter(subject__user=other_customer, source="request").exists()


def test_an_objection_to_transfers_abroad_is_a_request_officers_see(customer):
    request = file_request(type="objection", user=customer, purposes=("international_transfers",))
    # Not direct marketing: the session confirms the person, and the withdrawal is recorded.
    assert request.state == State.COMPLETED
    assert not consent_granted(subject_for_user(customer), "international_transfers")


def test_a_guest_withdraws_consent_by_email_without_an_account():
    subject = subject_for_email("trade.show@example.com")
    _grant(subject, "marketing_email")
    request = file_request(
        type="withdraw_consent",
        email="trade.show@example.com",
        channel="portal_guest",
        purposes=("marketing_email",),
    )
    assert request.state == State.COMPLETED
    assert not consent_granted(subject, "marketing_email")


def test_an_objection_to_marketing_takes_effect_while_another_objection_awaits_confirmation():
    """A guest's objection that includes more than marketing waits for the e-mailed link, but
    its direct-marketing part takes effect at once; a second objection to marketing alone from
    the same address is carried out, and the first still waits for its link."""
    subject = subject_for_email("two.objections@example.com")
    _grant(subject, "marketing_email")
    _grant(subject, "marketing_sms")
    _grant(subject, "international_transfers")
    waiting = file_request(
        type="objection",
        email="two.objections@example.com",
        channel="portal_guest",
        purposes=("marketing_email", "international_transfers"),
    )
    assert waiting.state == State.AWAITING_IDENTITY
    assert not consent_granted(subject, "marketing_email")
    event = ConsentEvent.objects.filter(subject=subject).latest("occurred_at")
    assert (event.source, event.granted, event.note) == ("request", False, waiting.reference)
    assert consent_granted(subject, "international_transfers")  # only after the link

    second = file_request(
        type="objection",
        email="two.objections@example.com",
        channel="portal_guest",
        purposes=("marketing_sms",),
    )
    assert second.state == State.COMPLETED and second.duplicate_of is None
    assert not consent_granted(subject, "marketing_sms")
    waiting.refresh_from_db()
    assert waiting.state == State.AWAITING_IDENTITY

    confirmed = dsr_request_verify_email(
        request_id=waiting.pk, nonce=waiting.verification_nonce, order_number=""
    )
    assert confirmed.state == State.COMPLETED
    assert not consent_granted(subject, "international_transfers")
    # The marketing withdrawal is in the ledger once, from the filing.
    withdrawals = ConsentEvent.objects.filter(
        subject=subject, granted=False, note=waiting.reference
    )
    assert withdrawals.count() == 2


def test_a_withdrawal_asked_for_by_e_mail_address_alone_waits_for_the_link_beyond_marketing(
    client, customer, django_capture_on_commit_callbacks
):
    """Typing a customer's address must not restrict their data elsewhere (a withdrawal of
    sharing with partners restricts their record in the group CRM): only direct marketing stops at
    once; the rest follows the e-mailed link, which the customer alone can follow."""
    from dsr.models import DataStore, StoreTask
    from tests.dsr.helpers import add_store

    DataStore.objects.update(enabled=False)
    add_store(
        "crm",
        "tests.dsr.connectors.RestrictingConnector",
        config={"purpose_keys": ["partner_sharing"]},
    )
    subject = subject_for_user(customer)
    _grant(subject, "marketing_email")
    _grant(subject, "partner_sharing")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/requests/new/",
            {
                "type": "withdraw_consent",
                "email": customer.email.upper(),
                "purposes": ["marketing_email", "partner_sharing"],
            },
        )

    assert response["Location"].endswith("?opt_out=partly")
    waiting = DataSubjectRequest.objects.get(type="withdraw_consent")
    assert waiting.state == State.AWAITING_IDENTITY
    assert not consent_granted(subject, "marketing_email")
    assert consent_granted(subject, "partner_sharing")
    assert not StoreTask.objects.exists()
    letter = mail.outbox[-1]
    assert letter.to == [customer.email] and "/requests/verify/" in letter.body
    # Neither the acknowledgement nor the confirmation page says that nothing has happened:
    # the marketing already stopped. The page names what the request is about.
    (receipt,) = [m for m in mail.outbox if "We received your request" in m.body]
    assert "We do nothing more with your request until you use it." in receipt.body
    assert "We do nothing with your request" not in receipt.body
    (link,) = re.findall(r"/requests/verify/[^/\s]+/", letter.body)
    page = client.get(link).content.decode()
    assert "close this page: nothing more will happen." in page
    titles = catalogue().by_key
    for key in ("marketing_email", "partner_sharing"):
        assert html.escape(titles[key].title("en")) in page

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = dsr_request_verify_email(
            request_id=waiting.pk, nonce=waiting.verification_nonce, order_number=""
        )
    assert not consent_granted(subject, "partner_sharing")
    assert confirmed.identity_method == "email_link" and confirmed.user_id == customer.pk
    assert StoreTask.objects.filter(request=confirmed, action="restrict").exists()


def test_a_withdrawal_beyond_marketing_takes_effect_at_once_signed_in(customer_client, customer):
    """As easily as it was given (GDPR Art. 7(3)): no password asked, nothing to confirm."""
    subject = subject_for_user(customer)
    _grant(subject, "partner_sharing")

    response = customer_client.post(
        "/requests/new/", {"type": "withdraw_consent", "purposes": ["partner_sharing"]}
    )

    assert "/reauthenticate/" not in response["Location"]
    assert not consent_granted(subject, "partner_sharing")
    assert DataSubjectRequest.objects.get().state == State.COMPLETED


def test_an_opt_out_is_never_held_for_review(customer, settings):
    """An objection to direct marketing takes effect with no review, whatever the operator
    configured to be approved automatically."""
    settings.DSR_AUTO_APPROVE = []
    subject = subject_for_user(customer)
    _grant(subject, "marketing_email")
    request = file_request(type="objection", user=customer, purposes=("marketing_email",))
    assert request.state == State.COMPLETED
    assert not consent_granted(subject, "marketing_email")
    other = file_request(type="objection", user=customer, purposes=("international_transfers",))
    assert other.state == State.IN_REVIEW


def test_the_access_package_holds_the_consent_history(customer):
    subject = subject_for_user(customer)
    _grant(subject, "surveys")
    request = run_pending_tasks(file_request(type="access", user=customer))
    archive = open_package(request)
    assert "stores/portal/consent_history.json" in archive.namelist()
    assert "surveys" in archive.read("stores/portal/consent_history.json").decode()
    assert "surveys" in archive.read("stores/portal/consent_choices.json").decode()


def test_erasure_keeps_the_ledger_but_no_longer_ties_it_to_the_person(customer, compliance_user):
    subject = subject_for_user(customer)
    _grant(subject, "marketing_email")
    consent_record(
        subject=subject,
        purpose_key="marketing_email",
        granted=False,
        source="unsubscribe",
        actor=None,
    )
    events = ConsentEvent.objects.filter(subject=subject).count()
    email = customer.email

    request = run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="erasure", user=customer), actor=compliance_user
        )
    )

    assert request.state == State.COMPLETED
    subject = ConsentSubject.objects.get(pk=subject.pk)
    assert subject.user_id is None and subject.email_hash is None and subject.pseudonym
    assert ConsentEvent.objects.filter(subject=subject).count() == events  # proof kept
    # The address stays unsubscribed even though the account is gone.
    assert suppression_has(channel="email", address=email)
    receipt = request.tasks.get(store__key="portal").receipt
    assert receipt["anonymised"]["consent_history"] == events
    assert all(count == 0 for count in receipt["remaining"].values())
    assert email not in str(receipt)


def test_erasure_detaches_every_subject_of_the_person_once(customer, compliance_user):
    """The account's subject, a browser's banner subject linked to the account at sign-in, and
    the subject of the account's address from before it had an account: each is detached
    with a pseudonym of its own, and each keeps its events."""
    account = subject_for_user(customer)
    _grant(account, "surveys")
    visitor = subject_for_visitor(uuid.uuid4())
    consent_record(
        subject=visitor, purpose_key="analytics", granted=True, source="banner", actor=None
    )
    consent_link_visitor(user=customer, visitor_id=visitor.visitor_id)
    # As a newsletter sign-up without an account leaves it.
    by_email = ConsentSubject.objects.create(email_hash=email_hash(customer.email))
    _grant(by_email, "marketing_sms")
    subjects = [account, visitor, by_email]
    events = {s.pk: ConsentEvent.objects.filter(subject=s).count() for s in subjects}
    assert all(events.values())

    request = run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="erasure", user=customer), actor=compliance_user
        )
    )

    assert request.state == State.COMPLETED
    detached = ConsentSubject.objects.filter(pk__in=[s.pk for s in subjects])
    assert all(s.pseudonymised_at and s.user_id is None for s in detached)
    assert all(s.visitor_id is None and s.email_hash is None for s in detached)
    # Each pseudonym is the keyed hash of that subject's own identity, not of an empty one.
    assert len({s.pseudonym for s in detached}) == 3
    for subject in detached:
        assert ConsentEvent.objects.filter(subject=subject).count() == events[subject.pk]
    receipt = request.tasks.get(store__key="portal").receipt
    assert sum(
        receipt["anonymised"].get(entity, 0)
        for entity in ("consent_history", "consent_history_by_email")
    ) == sum(events.values())
    assert all(count == 0 for count in receipt["remaining"].values())


def _guest_objection(*purposes: str):
    return file_request(
        type="objection",
        email="more.purposes@example.com",
        channel="portal_guest",
        purposes=purposes,
    )


def test_an_objection_adding_purposes_to_an_open_one_is_a_request_of_its_own():
    """The objection to transfers abroad is not lost by being linked to an earlier objection
    that does not cover it."""
    first = _guest_objection("international_transfers")
    assert first.state == State.AWAITING_IDENTITY

    second = _guest_objection("international_transfers", "statistics")

    assert second.state == State.AWAITING_IDENTITY and second.duplicate_of is None
    assert second.purposes == ["international_transfers", "statistics"]
    # Neither was confirmed, so neither holds back a request for fewer purposes, which has a
    # link of its own; asking again for the same purposes replaces the unconfirmed request.
    third = _guest_objection("statistics")
    assert third.state == State.AWAITING_IDENTITY and third.duplicate_of is None
    fourth = _guest_objection("statistics", "international_transfers")
    second.refresh_from_db()
    assert fourth.state == State.AWAITING_IDENTITY
    assert second.state == State.DUPLICATE and second.duplicate_of == fourth


def test_an_objection_still_telling_the_stores_says_it_already_took_effect(
    customer, customer_client
):
    """The objection counts at once in the ledger; the page does not leave the person reading
    only "in progress" and a deadline while a store is told to stop."""
    from tests.dsr.helpers import add_store

    add_store(
        "analytics",
        "dsr.connectors.manual.ManualConnector",
        identities=["customer_id"],
        config={"actions": ["restrict"], "purpose_keys": ["international_transfers"]},
    )
    request = file_request(type="objection", user=customer, purposes=("international_transfers",))
    request = run_pending_tasks(request)
    assert request.state == State.WAITING
    assert not consent_granted(subject_for_user(customer), "international_transfers")
    page = customer_client.get(f"/requests/{request.reference}/").content.decode()
    assert "Your choice took effect as soon as we received it." in page
    assert "Changed your mind?" not in page


def test_a_done_objection_tells_the_person_how_to_change_their_mind(customer, customer_client):
    """Where to switch the use on again, and that the systems it stopped are told so: until
    they switched it on."""
    request = run_pending_tasks(
        file_request(type="objection", user=customer, purposes=("marketing_sms",))
    )
    assert request.state == State.COMPLETED
    page = customer_client.get(f"/requests/{request.reference}/").content.decode()
    assert "Changed your mind?" in page and 'href="/privacy/"' in page
    assert "any system this request stopped is then told" in page

    _grant(subject_for_user(customer), "marketing_sms")
    page = customer_client.get(f"/requests/{request.reference}/").content.decode()
    assert "Changed your mind?" not in page
