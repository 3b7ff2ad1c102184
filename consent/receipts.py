"""Consent receipts: what a person agreed to and when, as JSON with the Kantara Initiative
Consent Receipt v1.1 fields and an ISO/IEC TS 27560 style record of each purpose's state and
events. Signed with a keyed hash so that Inper can recognise a receipt it issued."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from privacy_portal.pseudonymise import keyed_hash

from .models import ConsentSubject, LegalBasis, PurposeKind
from .selectors import consent_current, consent_events

CONTROLLER = {
    "piiController": "Inper Ltd",
    "onBehalf": False,
    "contact": "Inper privacy team",
    "email": "",
    "piiControllerUrl": "",
}


def receipt_signature(receipt: dict[str, Any]) -> str:
    """Return the keyed hash of a receipt without its signature (canonical JSON)."""
    unsigned = {key: value for key, value in receipt.items() if key != "signature"}
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return keyed_hash(canonical, purpose="consent-receipt")


def consent_receipt(subject: ConsentSubject, *, language: str) -> dict[str, Any]:
    """Return the receipt of ``subject``'s current consents and of every event behind them."""
    now = timezone.now()
    base = settings.PORTAL_BASE_URL
    choices = consent_current(subject)
    principal = (
        f"urn:inper:consent-subject:{subject.pk}"
        if subject.pk
        else f"urn:inper:account:{subject.user_id}"
    )
    controller = {
        **CONTROLLER,
        "email": settings.PORTAL_PRIVACY_EMAIL,
        "piiControllerUrl": base + "/",
    }
    purposes = [
        {
            "purpose": choice.purpose.title(language),
            "purposeId": choice.key,
            "purposeCategory": [choice.purpose.kind],
            "consentType": "EXPLICIT"
            if choice.purpose.legal_basis == LegalBasis.CONSENT
            else "IMPLICIT",
            "legalBasis": choice.purpose.legal_basis,
            "piiCategory": [choice.purpose.channel] if choice.purpose.channel else [],
            "primaryPurpose": choice.purpose.always_on,
            # Where the person withdraws or objects: cookies in the cookie settings.
            "termination": base
            + reverse(
                "consent:cookies"
                if choice.purpose.kind == PurposeKind.COOKIE
                else "consent:preferences"
            ),
            "thirdPartyDisclosure": choice.purpose.honours_gpc,
            "state": choice.status,
            "granted": choice.granted,
        }
        for choice in choices
        if choice.purpose.kind != PurposeKind.COOKIE or not choice.purpose.always_on
    ]
    events = [
        {
            "eventId": event.pk,
            "purposeId": event.purpose.key,
            "purposeVersion": event.purpose_version.version,
            "eventType": _event_type(event.granted, objection=event.purpose.is_objection),
            "eventTime": event.occurred_at.isoformat(),
            "collectionMethod": event.source,
            "notice": {
                "language": event.language,
                "textHash": f"sha256:{event.text_hash}",
                "policyVersion": event.policy_version.version if event.policy_version else None,
                "policyDocument": event.policy_version.document if event.policy_version else None,
            },
        }
        for event in (consent_events(subject) if subject.pk else ())
    ]
    receipt: dict[str, Any] = {
        # Kantara Initiative Consent Receipt Specification v1.1
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "EU",
        "consentTimestamp": int(now.timestamp()),
        "collectionMethod": "Inper Privacy Portal",
        "consentReceiptID": str(uuid.uuid4()),
        "language": language,
        "piiPrincipalId": principal,
        "piiControllers": [controller],
        "policyUrl": base + reverse("consent:statement"),
        "services": [{"service": "Inper websites, shop and communications", "purposes": purposes}],
        "sensitive": False,
        "spiCat": [],
        # ISO/IEC TS 27560:2023 consent record information: the events behind each state
        "iso27560": {
            "schemaVersion": "ISO/IEC TS 27560:2023",
            "recordId": f"{principal}:{int(now.timestamp())}",
            "piiPrincipalId": principal,
            "controller": controller,
            "generatedAt": now.isoformat(),
            "events": events,
        },
    }
    receipt["signature"] = {"alg": "HMAC-SHA256", "value": receipt_signature(receipt)}
    return receipt


def _event_type(granted: bool, *, objection: bool) -> str:
    """Name an event as the person's history does: consent is given and withdrawn; a use
    resting on Inper's legitimate interest is objected to, and the objection withdrawn."""
    if objection:
        return "objection_withdrawn" if granted else "objected"
    return "given" if granted else "withdrawn"
