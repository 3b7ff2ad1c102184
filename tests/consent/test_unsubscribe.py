"""One-click unsubscribe (RFC 8058), the SMS provider's STOP webhook and the suppression list."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.test import Client

from consent import services
from consent.marketing import marketing_email_send
from consent.models import ConsentEvent, ConsentState
from consent.signatures import signature_make
from tests.conftest import login
from tests.consent.conftest import history_rows, record
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SMS = "/api/v1/consent/sms/inbound/"
SECRET = "s" * 40


def _send_newsletter(customer, capture):
    subject = services.subject_for_user(customer)
    with capture(execute=True):
        sent = marketing_email_send(
            subject=subject, to=customer.email, template="consent/welcome", context={}
        )
    return sent, mail.outbox[-1] if mail.outbox else None


def test_marketing_email_carries_rfc_8058_headers(customer, django_capture_on_commit_callbacks):
    """By default only the one-click https link: no mailbox reads unsubscribe mails."""
    record(customer, "marketing_email", True)
    sent, message = _send_newsletter(customer, django_capture_on_commit_callbacks)
    assert sent
    header = message.extra_headers["List-Unsubscribe"]
    (https,) = (part.strip("<> ") for part in header.split(","))
    assert https.startswith("http") and "/unsubscribe/" in https
    assert "mailto:" not in header
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert https in message.body


def test_a_processed_mailbox_is_offered_as_a_mailto_beside_the_link(
    customer, settings, django_capture_on_commit_callbacks
):
    settings.CONSENT_UNSUBSCRIBE_MAILTO = "unsubscribe@lists.inper.example"
    record(customer, "marketing_email", True)
    sent, message = _send_newsletter(customer, django_capture_on_commit_callbacks)
    assert sent
    header = message.extra_headers["List-Unsubscribe"]
    https, mailto = (part.strip("<> ") for part in header.split(","))
    assert https.startswith("http") and "/unsubscribe/" in https
    token = https.rstrip("/").rsplit("/", 1)[1]
    subject = quote(f"unsubscribe {token}")
    assert mailto == f"mailto:unsubscribe@lists.inper.example?subject={subject}"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_mailbox_that_is_not_an_address_fails_the_system_checks(settings):
    assert "consent.E007" not in {problem.id for problem in run_checks()}
    settings.CONSENT_UNSUBSCRIBE_MAILTO = "the unsubscribe mailbox"
    assert "consent.E007" in {problem.id for problem in run_checks()}


def test_no_marketing_email_without_consent(customer, django_capture_on_commit_callbacks):
    sent, message = _send_newsletter(customer, django_capture_on_commit_callbacks)
    assert not sent and message is None


def test_one_click_post_withdraws_without_login_or_cookies(
    customer, django_capture_on_commit_callbacks
):
    record(customer, "marketing_email", True)
    _sent, message = _send_newsletter(customer, django_capture_on_commit_callbacks)
    url = message.extra_headers["List-Unsubscribe"].split(",")[0].strip("<> ")
    path = url.split("8000", 1)[1]
    anonymous = Client(enforce_csrf_checks=True)

    page = anonymous.get(path)
    assert page.status_code == 200 and "Yes, unsubscribe me" in page.content.decode()
    assert ConsentState.objects.get(purpose__key="marketing_email").granted

    response = anonymous.post(
        path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR="203.0.113.9",
    )

    assert response.status_code == 200 and "You are unsubscribed" in response.content.decode()
    event = ConsentEvent.objects.latest("id")
    assert (event.granted, event.source, event.ip_truncated) == (
        False,
        "unsubscribe",
        "203.0.113.0",
    )
    assert not anonymous.cookies.get("sessionid")

    # A repeated one-click POST (mail clients retry) succeeds again, recording nothing more.
    replay = anonymous.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert replay.status_code == 200
    assert "This link was already used" in replay.content.decode()
    assert replay["X-Robots-Tag"] == "noindex"
    assert ConsentEvent.objects.count() == 2
    assert not ConsentState.objects.get(purpose__key="marketing_email").granted


def test_a_link_used_before_unsubscribes_again_after_subscribing_again(
    customer, django_capture_on_commit_callbacks
):
    """An older newsletter's link, used once, then the person subscribed again: clicking it
    unsubscribes them, instead of saying they are while they are not."""
    record(customer, "marketing_email", True)
    _sent, message = _send_newsletter(customer, django_capture_on_commit_callbacks)
    path = message.extra_headers["List-Unsubscribe"].split(",")[0].strip("<> ").split("8000", 1)[1]
    one_click = {"content_type": "application/x-www-form-urlencoded"}
    Client().post(path, "List-Unsubscribe=One-Click", **one_click)
    assert not ConsentState.objects.get(purpose__key="marketing_email").granted
    record(customer, "marketing_email", True)  # subscribed again

    page = Client().get(path).content.decode()
    assert "Yes, unsubscribe me" in page
    response = Client().post(path, "List-Unsubscribe=One-Click", **one_click)

    assert response.status_code == 200 and "You are unsubscribed" in response.content.decode()
    assert not ConsentState.objects.get(purpose__key="marketing_email").granted
    assert ConsentEvent.objects.filter(source="unsubscribe").count() == 2


def test_tampered_unsubscribe_tokens_are_refused(customer, django_capture_on_commit_callbacks):
    record(customer, "marketing_email", True)
    _sent, message = _send_newsletter(customer, django_capture_on_commit_callbacks)
    url = message.extra_headers["List-Unsubscribe"].split(",")[0].strip("<> ")
    path = url.split("8000", 1)[1]
    token = path.split("/")[2]
    for bad in (token[:-2] + "xx", token.replace(":", ":0", 1), "garbage", "a" * 500):
        assert Client().post(f"/unsubscribe/{bad}/").status_code in (400, 404)
    assert ConsentEvent.objects.count() == 1


@pytest.mark.usefixtures("redis_cache")
def test_unsubscribe_is_rate_limited_with_429(client, settings):
    settings.CONSENT_RATE_UNSUBSCRIBE = "2/m"
    statuses = [client.post("/unsubscribe/garbage/").status_code for _ in range(4)]
    assert statuses == [400, 400, 429, 429]


def _sms(client, payload, secret=SECRET, stamp=None):
    body = json.dumps(payload).encode()
    header = signature_make(secret.encode(), body, timestamp=stamp)
    return client.post(
        SMS, body, content_type="application/json", HTTP_X_INPER_SMS_SIGNATURE=header
    )


def test_sms_stop_withdraws_sms_marketing_and_suppresses_the_number(client, settings):
    settings.CONSENT_SMS_WEBHOOK_SECRET = SECRET
    user = UserFactory(phone="+491701234567")
    record(user, "marketing_sms", True)

    response = _sms(client, {"message_id": "m-1", "from": "+491701234567", "text": "Stop"})

    assert response.status_code == 200 and response.json() == {"action": "stopped", "withdrawn": 1}
    event = ConsentEvent.objects.latest("id")
    assert (event.purpose.key, event.granted, event.source) == (
        "marketing_sms",
        False,
        "sms_stop",
    )
    assert event.evidence["via"] == "sms_stop"
    assert event.actor_type == "subject"  # the person replied, as with an unsubscribe link
    assert services.suppression_has(channel="sms", address="+491701234567")
    # The same message again is a replay: 409 and nothing recorded.
    assert (
        _sms(client, {"message_id": "m-1", "from": "+491701234567", "text": "STOP"}).status_code
        == 409
    )
    assert ConsentEvent.objects.count() == 2


def test_the_history_says_a_stop_reply_came_by_text_message(client, settings):
    """Not "Unsubscribe link": the person replied STOP to a text message. A STOP reply recorded
    before it had a source of its own (the ledger is never changed) reads the same."""
    settings.CONSENT_SMS_WEBHOOK_SECRET = SECRET
    user = UserFactory(phone="+491701234567")
    record(user, "marketing_sms", True)
    record(user, "marketing_sms", False, "unsubscribe", evidence={"via": "sms_stop"})
    record(user, "marketing_sms", True)
    record(user, "marketing_email", True)
    record(user, "marketing_email", False, source="unsubscribe")

    _sms(client, {"message_id": "m-7", "from": "+491701234567", "text": "STOP"})

    withdrawn = [row for row in history_rows(login(Client(), user)) if row[1] == "Withdrawn"]
    assert withdrawn == [
        ("Offers by text message", "Withdrawn", "Reply STOP by text message"),
        ("News and offers by e-mail", "Withdrawn", "Unsubscribe link"),
        ("Offers by text message", "Withdrawn", "Reply STOP by text message"),
    ]


def test_sms_webhook_refuses_bad_signatures_old_timestamps_and_malformed_bodies(client, settings):
    settings.CONSENT_SMS_WEBHOOK_SECRET = SECRET
    user = UserFactory(phone="+491701234567")
    record(user, "marketing_sms", True)
    payload = {"message_id": "m-2", "from": "+491701234567", "text": "STOP"}
    assert _sms(client, payload, secret="w" * 40).status_code == 401
    assert _sms(client, payload, stamp=int(time.time()) - 3600).status_code == 401
    assert _sms(client, {"message_id": "m-3", "from": "0170", "text": "STOP"}).status_code == 400
    assert client.post(SMS, "{}", content_type="application/json").status_code == 401
    assert ConsentEvent.objects.count() == 1


def test_an_unsubscribed_address_stays_suppressed_after_erasure(
    customer, superuser, django_capture_on_commit_callbacks
):
    subject = services.subject_for_user(customer)
    record(customer, "marketing_email", True)
    record(customer, "marketing_email", False, source="unsubscribe")
    email = customer.email

    services.consent_subject_pseudonymise(subject=subject, actor=superuser)
    customer.delete()

    # The same address comes back as a trade-show contact: marketing is still refused.
    contact = services.subject_for_email(email)
    record(contact, "marketing_email", True, source="staff")
    with django_capture_on_commit_callbacks(execute=True):
        sent = marketing_email_send(
            subject=contact, to=email, template="consent/welcome", context={}
        )
    assert not sent and mail.outbox == []
    assert ConsentEvent.objects.filter(subject=subject).count() == 2


def test_the_api_names_a_customers_suppressed_channels_by_id_as_by_address(
    client, settings, api_client_factory, other_customer
):
    settings.CONSENT_SMS_WEBHOOK_SECRET = SECRET
    user = UserFactory(phone="+491701234567")
    _c, token = api_client_factory("consent:read")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def by_id(customer):
        return api.get(f"/api/v1/consent/customers/{customer.pk}/").json()["suppressed"]

    def lookup(**identity):
        body = api.post("/api/v1/consent/lookup/", identity, content_type="application/json")
        return body.json()["suppressed"]

    assert by_id(user) == []  # and the answer is cached now
    # STOP from the number, without SMS marketing ever granted: no consent event, yet the
    # number is suppressed and other systems must not text it.
    assert _sms(client, {"message_id": "m-9", "from": "+491701234567", "text": "STOP"}).json() == {
        "action": "stopped",
        "withdrawn": 0,
    }
    assert by_id(user) == ["sms"]
    assert lookup(customer_id=user.pk) == ["sms"]
    assert lookup(email=user.email) == ["sms"]
    services.suppression_add(
        channel="email", address_hash=services.suppression_hash("email", user.email), reason="t"
    )
    services.consent_current_forget(user.pk)
    assert by_id(user) == ["email", "sms"] and lookup(email=user.email.upper()) == ["email", "sms"]
    assert by_id(other_customer) == []  # nobody else's

    # A new number is not suppressed: the cached answer follows the account's change.
    user.phone = "+491709999999"
    user.save(update_fields=["phone"])
    assert by_id(user) == ["email"]


def test_the_unsubscribe_page_speaks_the_language_of_the_email(
    customer, django_capture_on_commit_callbacks
):
    """The e-mail was in the person's language; the browser that opens its link may not be
    (a shared or work computer). A language chosen in that browser still wins."""
    from django.conf import settings as django_settings

    customer.preferred_language = "de"
    customer.save(update_fields=["preferred_language"])
    record(customer, "marketing_email", True)
    _sent, message = _send_newsletter(customer, django_capture_on_commit_callbacks)
    path = message.extra_headers["List-Unsubscribe"].split(",")[0].strip("<> ").split("8000", 1)[1]

    page = Client(headers={"accept-language": "en"}).get(path).content.decode()
    assert '<html lang="de">' in page

    chosen = Client(headers={"accept-language": "de"})
    chosen.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    assert '<html lang="en">' in chosen.get(path).content.decode()

    # A contact without an account: the language of their latest choice.
    contact = services.subject_for_email("fair.visitor@example.com")
    services.consent_record(
        subject=contact,
        purpose_key="marketing_email",
        granted=True,
        source="staff",
        actor=None,
        language="de",
    )
    from consent.marketing import unsubscribe_url

    url, _token = unsubscribe_url(subject=contact, purpose_key="marketing_email")
    page = Client(headers={"accept-language": "en"}).get(url.split("8000", 1)[1])
    assert '<html lang="de">' in page.content.decode()
