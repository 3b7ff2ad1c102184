"""Pushing consent changes to subscribed systems: HMAC-signed webhook POSTs, retried with
exponential backoff and jitter, every attempt logged. Rows are the truth; a periodic task
re-enqueues deliveries whose message was lost."""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import timedelta

import httpx
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from privacy_portal.crypto import decrypt

from .models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from .serialisers import change_payload
from .signatures import signature_make

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Inper-Signature"


def _backoff(attempts: int) -> float:
    base = settings.CONSENT_WEBHOOK_BACKOFF_SECONDS * (2 ** (attempts - 1))
    capped: float = min(base, 6 * 60 * 60)
    return capped * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not security)


@shared_task(acks_late=True, time_limit=60, soft_time_limit=45, ignore_result=True)
def consent_webhook_deliver_task(delivery_id: int) -> None:
    """Attempt one delivery; on failure schedule the next attempt (or give up after the
    configured number of attempts)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("subscription")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:  # delivered, given up, or another worker has it
            return
        if delivery.next_attempt_at and delivery.next_attempt_at > timezone.now():
            return  # not due yet: its own scheduled message (or the reconciler) will come
        body = json.dumps(
            {"delivery_id": delivery.pk, "events": change_payload(delivery.event_ids)},
            separators=(",", ":"),
        ).encode()
        secret = decrypt(bytes(delivery.subscription.secret_encrypted))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Inper-Privacy-Portal-Webhook/1",
            "Idempotency-Key": f"consent-delivery-{delivery.pk}",
            SIGNATURE_HEADER: signature_make(secret, body),
        }
        started = time.monotonic()
        status_code: int | None = None
        error = ""
        try:
            response = httpx.post(
                delivery.subscription.url,
                content=body,
                headers=headers,
                timeout=settings.CONSENT_WEBHOOK_TIMEOUT_SECONDS,
                follow_redirects=False,
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}"
        delivery.attempts += 1
        WebhookAttempt.objects.create(
            delivery=delivery,
            status_code=status_code,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        if not error:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
        elif delivery.attempts >= settings.CONSENT_WEBHOOK_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            logger.warning("webhook delivery failed", extra={"delivery": delivery.pk})
        else:
            delay = _backoff(delivery.attempts)
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            transaction.on_commit(
                lambda: consent_webhook_deliver_task.apply_async((delivery_id,), countdown=delay)
            )
        delivery.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240, ignore_result=True)
def consent_webhook_redeliver_task() -> None:
    """Re-enqueue pending deliveries that are overdue (their message was lost)."""
    overdue = timezone.now() - timedelta(minutes=2)
    for delivery_id in WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=overdue
    ).values_list("pk", flat=True)[:1000]:
        consent_webhook_deliver_task.delay(delivery_id)
