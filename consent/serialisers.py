"""The JSON shapes of consent that leave the portal (API answers, webhook pushes, receipts).
No personal data beyond the customer id: subjects are named by their ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .models import ConsentEvent
from .selectors import PurposeChoice


def event_dict(event: ConsentEvent) -> dict[str, Any]:
    """Return one ledger event as the API and webhooks show it."""
    return {
        "id": event.pk,
        "subject_id": event.subject_id,
        "customer_id": event.subject.user_id,
        "purpose": event.purpose.key,
        "purpose_version": event.purpose_version.version,
        "granted": event.granted,
        "source": event.source,
        "occurred_at": event.occurred_at.isoformat(),
        "language": event.language,
        "text_hash": event.text_hash,
    }


def change_payload(event_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Return the events with these ids, oldest first."""
    events = (
        ConsentEvent.objects.filter(pk__in=list(event_ids))
        .select_related("subject", "purpose", "purpose_version")
        .order_by("pk")
    )
    return [event_dict(event) for event in events]


def choice_dict(choice: PurposeChoice) -> dict[str, Any]:
    """Return a current choice as the API shows it."""
    purpose = choice.purpose
    return {
        "purpose": purpose.key,
        "kind": purpose.kind,
        "channel": purpose.channel or None,
        "legal_basis": purpose.legal_basis,
        "granted": choice.granted,
        "status": choice.status,
        "decided_at": choice.decided_at.isoformat() if choice.decided_at else None,
        "source": choice.source or None,
        "version": choice.version,
        "current_version": purpose.version,
    }


def document_json(document: dict[str, Any]) -> bytes:
    """The consent API's answer as the API sends it (the REST framework's JSON renderer)."""
    from rest_framework.renderers import JSONRenderer

    return JSONRenderer().render(document)
