"""Pushing consent changes to subscribed systems: a real Celery worker POSTs HMAC-signed
webhooks to a real HTTP server on loopback, retrying with backoff, every attempt logged."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from consent import services
from consent.models import ApiClient, DeliveryStatus, WebhookDelivery, WebhookSubscription
from consent.signatures import signature_valid
from privacy_portal.crypto import encrypt
from tests.worker import WorkerProcess, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
SECRET = b"receiving-system-shared-secret-0123456789"


class Receiver:
    """A receiving system that fails its first ``failures`` requests with HTTP 500."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict, bool, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                valid = signature_valid(
                    SECRET, body, self.headers.get("X-Inper-Signature", ""), tolerance=300
                )
                status = 500 if len(receiver.received) < receiver.failures else 200
                receiver.received.append((json.loads(body), valid, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/consent-hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def fast_worker(transactional_db, tmp_path, postgres, redis_cache):
    worker = WorkerProcess(tmp_path, extra_env={"CONSENT_WEBHOOK_BACKOFF_SECONDS": "0.3"}).start()
    yield worker
    worker.stop()
    from django.conf import settings

    from privacy_portal.celery import app

    app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE


def _subscribe(url: str, kinds=()):
    client = ApiClient.objects.create(name="newsletter platform", scopes=["consent:changes"])
    return WebhookSubscription.objects.create(
        client=client, url=url, secret_encrypted=encrypt(SECRET), kinds=list(kinds)
    )


def test_a_change_is_pushed_signed_and_retried_until_delivered(fast_worker, customer):
    receiver = Receiver(failures=1)
    try:
        _subscribe(receiver.url, kinds=["marketing"])
        subject = services.subject_for_user(customer)

        event = services.consent_record(
            subject=subject, purpose_key="marketing_sms", granted=False, source="api", actor=None
        )
        services.consent_record(  # a processing purpose: this subscription does not want it
            subject=subject, purpose_key="surveys", granted=True, source="api", actor=None
        )

        delivery = wait_until(
            lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).first(),
            timeout=30,
            message=f"the delivery\n{fast_worker.log()}",
        )
    finally:
        receiver.close()
    assert [(valid, status) for _body, valid, status in receiver.received] == [
        (True, 500),
        (True, 200),
    ]
    body = receiver.received[-1][0]
    assert [e["id"] for e in body["events"]] == [event.pk]
    pushed = body["events"][0]
    assert (pushed["purpose"], pushed["granted"], pushed["customer_id"]) == (
        "marketing_sms",
        False,
        customer.pk,
    )
    assert customer.email not in json.dumps(body)
    assert delivery.attempts == 2
    assert [a.status_code for a in delivery.log.all()] == [500, 200]
    assert WebhookDelivery.objects.count() == 1


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(
    tmp_path, transactional_db, postgres, redis_cache, customer
):
    receiver = Receiver(failures=100)
    worker = WorkerProcess(
        tmp_path,
        extra_env={"CONSENT_WEBHOOK_BACKOFF_SECONDS": "0.1", "CONSENT_WEBHOOK_MAX_ATTEMPTS": "3"},
    ).start()
    try:
        _subscribe(receiver.url)
        services.consent_record(
            subject=services.subject_for_user(customer),
            purpose_key="marketing_phone",
            granted=True,
            source="api",
            actor=None,
        )
        delivery = wait_until(
            lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).first(),
            timeout=30,
            message=f"the delivery to fail\n{worker.log()}",
        )
    finally:
        worker.stop()
        receiver.close()
    assert delivery.attempts == 3 and len(receiver.received) == 3


def test_anonymous_visitors_banner_choices_are_not_pushed(customer, transactional_db):
    _subscribe("https://newsletter.inper.example/hook")
    import uuid

    services.consent_record(
        subject=services.subject_for_visitor(uuid.uuid4()),
        purpose_key="analytics",
        granted=True,
        source="banner",
        actor=None,
    )
    assert not WebhookDelivery.objects.exists()
