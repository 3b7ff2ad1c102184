"""Sessions: new keys at sign-in and re-authentication, dead cookies after sign-out, other
sessions ended by a password change, idle and absolute timeouts."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Session
from privacy_portal.middleware import SESSION_AUTH_AT, SESSION_SEEN_AT
from tests.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
COOKIE = settings.SESSION_COOKIE_NAME


def _signed_in(client: Client) -> bool:
    return client.get("/account/").status_code == 200


def test_signing_in_gives_a_new_session_key(customer):
    client = Client()
    session = client.session
    session["visited"] = True
    session.save()
    before = session.session_key
    client.cookies[COOKIE] = before

    client.post("/accounts/login/", {"login": customer.email, "password": PASSWORD})

    assert _signed_in(client)
    assert client.cookies[COOKIE].value != before
    assert not Session.objects.filter(session_key=before).exists()


def test_reauthentication_gives_a_new_session_key(customer):
    client = login(Client(), customer)
    before = client.cookies[COOKIE].value
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302
    assert client.cookies[COOKIE].value != before
    assert not Session.objects.filter(session_key=before).exists()
    assert _signed_in(client)


def test_signing_out_kills_the_old_cookie(customer):
    client = login(Client(), customer)
    stolen = client.cookies[COOKIE].value
    client.post("/accounts/logout/")
    replay = Client()
    replay.cookies[COOKIE] = stolen
    assert not _signed_in(replay)


def test_a_password_change_ends_the_other_sessions(customer):
    here = login(Client(), customer)
    elsewhere = login(Client(), customer)
    response = here.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "a-brand-new-passphrase-42",
            "password2": "a-brand-new-passphrase-42",
        },
    )
    assert response.status_code == 302
    assert _signed_in(here)
    assert not _signed_in(elsewhere)


def test_an_active_session_is_kept_alive_and_an_idle_one_expires(customer):
    client = login(Client(), customer)
    key = client.cookies[COOKIE].value
    session = Session.objects.get(session_key=key)
    data = session.get_decoded()
    data[SESSION_SEEN_AT] = int(time.time()) - 120
    Session.objects.filter(session_key=key).update(session_data=client.session.encode(data))
    before = Session.objects.get(session_key=key).expire_date
    client.get("/account/")
    assert Session.objects.get(session_key=key).expire_date > before

    from django.utils import timezone

    Session.objects.filter(session_key=key).update(expire_date=timezone.now())
    assert not _signed_in(client)


def test_a_session_ends_at_its_absolute_timeout_however_active(customer):
    client = login(Client(), customer)
    session = client.session
    session[SESSION_AUTH_AT] = int(time.time()) - settings.SESSION_ABSOLUTE_TIMEOUT - 1
    session.save()
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not _signed_in(client)
