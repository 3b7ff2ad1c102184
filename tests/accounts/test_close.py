"""Closing an account: re-authentication first, then every session ends, sign-in is refused,
the closure is recorded for erasure, and a confirmation e-mail goes out."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from dsr.models import DataSubjectRequest
from privacy_portal.audit.models import AuditEvent
from tests.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

CLOSE = "/account/close/"


def test_closing_requires_a_fresh_reauthentication(customer_client, customer):
    response = customer_client.post(CLOSE, {"understood": "on"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    customer.refresh_from_db()
    assert customer.is_active and customer.closed_at is None


def test_the_page_explains_what_is_kept(customer):
    client = login(Client(), customer, reauthenticated=True)
    page = client.get(CLOSE).content.decode()
    assert "financial regulations" in page
    assert "signed out everywhere" in page


def test_closing_ends_every_session_disables_sign_in_and_sends_an_email(
    customer, django_capture_on_commit_callbacks
):
    email = customer.email
    browser = login(Client(), customer, reauthenticated=True)
    other_device = login(Client(), customer)
    assert other_device.get("/account/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(CLOSE, {"understood": "on"})

    assert response.status_code == 302 and response["Location"] == "/account/closed/"
    assert "Your account is closed" in browser.get("/account/closed/").content.decode()
    # Said once, to this browser only: nobody else is told their account was closed.
    assert browser.get("/account/closed/")["Location"] == "/"
    assert other_device.get("/account/closed/")["Location"] == "/"
    customer.refresh_from_db()
    assert not customer.is_active and customer.closed_at is not None
    # This browser and every other device are signed out.
    assert browser.get("/account/").status_code == 302
    assert other_device.get("/account/").status_code == 302
    # Signing in again is refused.
    response = Client().post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert "_auth_user_id" not in Client().session
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response["Location"] == "/accounts/inactive/"
    # The closure becomes an erasure request, and the person is told.
    assert AuditEvent.objects.filter(action="account.closed", object_id=str(customer.pk)).exists()
    erasure = DataSubjectRequest.objects.get(user=customer)
    assert (erasure.type, erasure.channel, erasure.identity_method) == (
        "erasure",
        "account_closure",
        "session_reauth",
    )
    closed = [m for m in mail.outbox if "account is closed" in m.subject]
    assert [m.to for m in closed] == [[email]]
    # The erasure waits for an officer: the letter does not say it has begun.
    assert erasure.state == "in_review" and "started" not in closed[0].body
    assert "our privacy team checks the erasure and then carries it out" in closed[0].body
    # Its acknowledgement promises nothing the portal refuses (the closure is final).
    [acknowledged] = [m for m in mail.outbox if erasure.reference in m.subject]
    assert "reply to this e-mail at once" in acknowledged.body
    assert "we will stop it" not in acknowledged.body


def test_closing_with_an_erasure_under_way_leads_to_it_without_a_second_one(
    customer, django_capture_on_commit_callbacks
):
    """The erasure already asked for erases the account too: the closure's e-mail names it,
    and no acknowledgement of a duplicate goes out in the same breath."""
    from tests.dsr.helpers import file_request

    asked = file_request(type="erasure", user=customer)
    mail.outbox.clear()
    browser = login(Client(), customer, reauthenticated=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(CLOSE, {"understood": "on"}).status_code == 302
    assert list(DataSubjectRequest.objects.filter(user=customer)) == [asked]
    [closed] = mail.outbox
    assert "account is closed" in closed.subject and asked.reference in closed.body
    customer.refresh_from_db()
    assert not customer.is_active


def test_closing_without_ticking_the_box_changes_nothing(customer):
    client = login(Client(), customer, reauthenticated=True)
    response = client.post(CLOSE, {})
    assert response.status_code == 400
    assert "tick the box" in response.content.decode()
    assert User.objects.get(pk=customer.pk).is_active


def test_closure_email_is_in_the_persons_language(customer, django_capture_on_commit_callbacks):
    customer.preferred_language = "de"
    customer.save()
    client = login(Client(), customer, reauthenticated=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CLOSE, {"understood": "on"}, follow=True)
    assert any(m.subject == "Ihr Inper-Konto ist geschlossen" for m in mail.outbox)
    # The page that says so too, although the session that knew the account is gone.
    page = response.content.decode()
    assert '<html lang="de">' in page and "Ihr Konto ist geschlossen" in page


def test_closing_stops_marketing_at_once_and_the_address_stays_unsubscribed_after_erasure(
    customer, compliance_user, django_capture_on_commit_callbacks
):
    """The page promises "We stop sending you marketing": at closure, not weeks later when an
    officer has approved the erasure; and the address is then kept on the suppression list."""
    from consent.models import ConsentEvent
    from consent.selectors import consent_granted
    from consent.services import consent_record, subject_for_user, suppression_has
    from dsr.services import dsr_request_approve
    from tests.dsr.helpers import run_pending_tasks

    subject = subject_for_user(customer)
    for key in ("marketing_email", "marketing_sms"):
        consent_record(
            subject=subject, purpose_key=key, granted=True, source="preference_centre", actor=None
        )
    email = customer.email
    client = login(Client(), customer, reauthenticated=True)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(CLOSE, {"understood": "on"})

    # Before any officer has looked at the erasure, marketing has stopped, in the ledger.
    assert not consent_granted(subject, "marketing_email")
    assert not consent_granted(subject, "marketing_sms")
    erasure = DataSubjectRequest.objects.get(user=customer)
    withdrawals = ConsentEvent.objects.filter(subject=subject, granted=False)
    assert {(e.purpose.key, e.source, e.note) for e in withdrawals} >= {
        ("marketing_email", "request", erasure.reference),
        ("marketing_sms", "request", erasure.reference),
        ("marketing_post", "request", erasure.reference),
    }
    # Once the erasure has run, the address stays unsubscribed.
    assert (
        run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user)).state
        == "completed"
    )
    assert suppression_has(channel="email", address=email)


def test_after_closing_the_person_can_open_a_new_account_with_the_same_address(
    customer, compliance_user, django_capture_on_commit_callbacks
):
    """The close page says "You can open a new account at any time": the closed account gives
    up its address, so signing up again with it creates a new account (not an "account
    already exists" e-mail), while the erasure of the closed account still reaches the
    address and leaves the new account alone."""
    from allauth.account.models import EmailAddress

    from consent.services import suppression_has
    from dsr.services import dsr_request_approve
    from tests.dsr.helpers import run_pending_tasks

    email = customer.email
    client = login(Client(), customer, reauthenticated=True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CLOSE, {"understood": "on"})
    erasure = DataSubjectRequest.objects.get(user=customer)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            "/accounts/signup/",
            {
                "email": email,
                "password1": "a-new-Passw0rd-2027",
                "password2": "a-new-Passw0rd-2027",
                "confirm_adult": "on",
            },
        )

    assert response.status_code == 302
    new = User.objects.get(email=email)
    assert new.pk != customer.pk and new.is_active and new.closed_at is None
    assert [m.to for m in mail.outbox] == [[email]]
    assert "Already Exists" not in mail.outbox[0].subject
    assert "confirm" in mail.outbox[0].body.lower()
    # The closed account keeps no trace of the address, but its erasure is still about it,
    # and the address stays unsubscribed from marketing.
    closed = User.objects.get(pk=customer.pk)
    assert not closed.is_active and closed.email != email
    assert not EmailAddress.objects.filter(user=closed, email__iexact=email).exists()
    assert erasure.email == email and erasure.snapshot()["email"] == email
    assert suppression_has(channel="email", address=email)
    # Erasing the closed account does not touch the new one.
    assert (
        run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user)).state
        == "completed"
    )
    assert not User.objects.filter(pk=customer.pk).exists()
    assert User.objects.filter(pk=new.pk, email=email).exists()


def test_the_person_follows_the_erasure_their_closure_started_by_its_link(
    customer, django_capture_on_commit_callbacks
):
    import re

    email = customer.email
    browser = login(Client(), customer, reauthenticated=True)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(CLOSE, {"understood": "on"})
    erasure = DataSubjectRequest.objects.get(user=customer)

    # The acknowledgement's link works without signing in, which the person no longer can.
    [received] = [m for m in mail.outbox if erasure.reference in m.subject and m.to == [email]]
    link = re.search(r"https?://[^/\s]+(/requests/\S+)", received.body).group(1)
    assert "?t=" in link
    page = Client().get(link)
    assert page.status_code == 200
    assert erasure.reference in page.content.decode()
    # The closure is final: its erasure cannot be cancelled from that page, even while it
    # waits for an officer.
    assert erasure.state == "in_review"
    assert "Cancel this request" not in page.content.decode()
    token = link.split("?t=")[1]
    Client().post(f"/requests/{erasure.reference}/cancel/", {"t": token})
    erasure.refresh_from_db()
    assert erasure.state != "cancelled"
