"""Account takeover: a password change is recorded and told to the person, and the export or
erasure that follows it is held for an officer (see also tests/dsr/test_engine.py)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from dsr.models import DataSubjectRequest, State
from tests.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_password_change_is_told_to_the_address_and_holds_the_next_export(
    customer, django_capture_on_commit_callbacks
):
    client = login(Client(), customer, reauthenticated=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/password/change/",
            {
                "oldpassword": PASSWORD,
                "password1": "a-new-long-passphrase-41",
                "password2": "a-new-long-passphrase-41",
            },
        )
    assert response.status_code == 302
    assert User.objects.get(pk=customer.pk).credentials_changed_at is not None
    told = [message for message in mail.outbox if customer.email in message.to]
    assert told, "the account's address is told of the change"

    client = login(Client(), User.objects.get(pk=customer.pk), reauthenticated=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/requests/new/", {"type": "access"})
    assert response.status_code == 302
    request = DataSubjectRequest.objects.get(email=customer.email)
    assert request.state == State.IN_REVIEW
    assert request.held_reason == "credentials_recently_changed"
