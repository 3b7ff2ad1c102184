"""Takeover: after the password or the e-mail address of an account changed, a copy or an
erasure of its data waits for a compliance officer (``DSR_HOLD_AFTER_CREDENTIAL_CHANGE_HOURS``),
and the person is told at the account's address. Driven through allauth's real pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client, TestCase
from django.utils import timezone

from accounts.models import User
from dsr.models import DataSubjectRequest, State
from tests.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-brand-new-passphrase-42"


def _file(client: Client, kind: str, *, commit: bool = True) -> DataSubjectRequest:
    with TestCase.captureOnCommitCallbacks(execute=commit):  # the e-mails go on commit
        response = client.post("/requests/new/", {"type": kind, "understood": "on"})
    assert response.status_code == 302, response.content.decode()[:500]
    return DataSubjectRequest.objects.filter(type=kind).latest("pk")


def _link(message: mail.EmailMessage, path: str) -> str:
    found = re.search(rf"https?://[^/\s]+({re.escape(path)}\S+)", message.body)
    assert found, message.body
    return found.group(1)


def _assert_held(request: DataSubjectRequest, customer: User, officer: User) -> None:
    assert request.state == State.IN_REVIEW
    assert request.held_reason == "credentials_recently_changed"
    assert not request.tasks.exists()  # nothing was looked up, copied or erased
    held = [m for m in mail.outbox if "changed very recently" in m.body]
    assert [m.to for m in held] == [[request.email]]
    assert request.email == User.objects.get(pk=customer.pk).email
    assert any(officer.email in m.to for m in mail.outbox)


def test_a_copy_asked_for_after_a_password_change_waits_for_an_officer(customer, compliance_user):
    client = login(Client(), customer, reauthenticated=True)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    _assert_held(_file(client, "access"), customer, compliance_user)


def test_an_erasure_asked_for_after_a_password_reset_by_e_mail_waits(customer, compliance_user):
    # Whoever controls the mailbox can reset the password: the erasure still waits.
    visitor = Client()
    visitor.post("/accounts/password/reset/", {"email": customer.email})
    link = _link(mail.outbox[-1], "/accounts/password/reset/key/")
    form = visitor.get(link)["Location"]
    response = visitor.post(form, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert User.objects.get(pk=customer.pk).credentials_changed_at is not None
    client = login(Client(), User.objects.get(pk=customer.pk), reauthenticated=True)
    _assert_held(_file(client, "erasure"), customer, compliance_user)


def test_a_copy_asked_for_after_an_e_mail_change_waits_and_the_old_address_is_told(
    customer, compliance_user
):
    old = customer.email
    client = login(Client(), customer, reauthenticated=True)
    client.post("/accounts/email/", {"email": "alice.new@example.com", "action_add": ""})
    confirm = _link(mail.outbox[-1], "/accounts/confirm-email/")
    assert client.post(confirm).status_code == 302
    customer.refresh_from_db()
    assert customer.email == "alice.new@example.com"
    # allauth tells the old address that the address changed.
    assert any(m.to == [old] and "alice.new@example.com" in m.body for m in mail.outbox)
    client = login(Client(), customer, reauthenticated=True)
    _assert_held(_file(client, "access"), customer, compliance_user)


def test_a_new_customer_who_confirmed_their_address_at_sign_up_is_not_held(client):
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            "/accounts/signup/",
            {
                "email": "new.customer@example.com",
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
                "confirm_adult": "on",
            },
        )
    client.post(_link(mail.outbox[-1], "/accounts/confirm-email/"))
    user = User.objects.get(email="new.customer@example.com")
    assert user.credentials_changed_at is None

    request = _file(login(Client(), user, reauthenticated=True), "access")
    assert request.held_reason == "" and request.state != State.IN_REVIEW
    assert not [m for m in mail.outbox if "changed very recently" in m.body]


def test_once_the_hold_has_passed_a_copy_is_made_at_once(customer, settings):
    User.objects.filter(pk=customer.pk).update(
        credentials_changed_at=timezone.now()
        - timedelta(hours=settings.DSR_HOLD_AFTER_CREDENTIAL_CHANGE_HOURS, minutes=1)
    )
    request = _file(login(Client(), customer, reauthenticated=True), "access", commit=False)
    assert request.held_reason == "" and request.state != State.IN_REVIEW
    assert request.tasks.exists()
