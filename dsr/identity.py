"""Checking what only the person would know (an order number) against the stores."""

from __future__ import annotations

import logging

from .connectors.base import StoreError, Subject
from .connectors.registry import connector_for
from .models import DataStore, DataSubjectRequest

logger = logging.getLogger(__name__)


def subject_of(request: DataSubjectRequest) -> Subject:
    """Return the identities of the request's subject, as connectors take them."""
    data = request.snapshot()
    return Subject(
        email=data.get("email") or request.email,
        customer_id=data.get("customer_id"),
        phone=data.get("phone"),
        order_numbers=tuple(data.get("order_numbers") or ()),
        name=data.get("name"),
    )


def confirm_knowledge(request: DataSubjectRequest) -> bool:
    """Return True if a store that knows order numbers ties the given one to the address."""
    subject = subject_of(request)
    if not subject.order_numbers:
        return False
    for store in DataStore.objects.filter(enabled=True):
        if "order_number" not in (store.identities or []):
            continue
        try:
            if connector_for(store).confirm_identity(subject):
                return True
        except StoreError:
            logger.warning("identity check failed", extra={"store": store.key})
    return False
