"""Requests and the consent centre: objections and withdrawals land in the ledger at once;
access packages carry the consent history; erasure detaches the person from the ledger."""

from __future__ import annotations

import pytest

from consent.models import ConsentEvent, ConsentSubject
from consent.selectors import consent_granted
from consent.services import (
    consent_record,
    subject_for_email,
    subject_for_user,
    suppression_has,
)
from dsr.models import State
from dsr.services import dsr_request_approve
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
