"""Which of Inper's stores hold data about a signed-in customer, and how much: the stores
section of "what Inper holds about me" (``/account/data/``).

Searching every store takes a while, so it runs in the background: the page shows "checking"
and asks a worker to run each store's ``locate`` (the Celery task gets the account id only);
the result is cached under a key made of that id alone (no personal data in cache keys),
and the page picks it up without a reload. The cache holds store keys and record counts,
never the records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from privacy_portal.categories import DataCategory
from privacy_portal.pseudonymise import normalise_email

from .connectors.base import StoreError, Subject
from .connectors.registry import connector_class, connector_for
from .models import DataStore
from .portal_store import PORTAL_STORE_KEY
from .texts import store_entity_name

logger = logging.getLogger(__name__)

FOUND, NOTHING, UNAVAILABLE = "found", "nothing", "unavailable"
#: Stores that cannot be searched from here: staff look when the person asks for a copy; a
#: recipient is told about corrections, erasures and restrictions; others act on request.
BY_STAFF, RECIPIENT, ON_REQUEST = "by_staff", "recipient", "on_request"
#: Seconds a check may be under way before another one is asked for.
PENDING_SECONDS = 120


def _key(user_id: int) -> str:
    return f"dsr:holdings:v1:{user_id}"


def _pending_key(user_id: int) -> str:
    return f"dsr:holdings:pending:{user_id}"


@dataclass(frozen=True)
class StoreHolding:
    """What one store holds about the person."""

    store: DataStore
    status: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def categories(self) -> list[str]:
        labels = dict(DataCategory.choices)
        return [str(labels.get(key, key)) for key in self.store.categories or ()]

    @property
    def items(self) -> list[tuple[str, int]]:
        return [
            (store_entity_name(self.store, entity), count) for entity, count in self.counts.items()
        ]


@dataclass(frozen=True)
class Holdings:
    """The stores section of the page: still being checked, or the result and when."""

    checking: bool
    checked_at: datetime | None = None
    stores: list[StoreHolding] = field(default_factory=list)

    @property
    def found(self) -> list[StoreHolding]:
        return [holding for holding in self.stores if holding.status == FOUND]


def holdings_of(user: Any) -> Holdings:
    """Return what the stores hold about ``user`` as last checked, or that a check is under
    way (and ask for one if none is)."""
    data = cache.get(_key(user.pk))
    if data is None:
        holdings_request(user_id=user.pk)
        return Holdings(checking=True)
    stores = {store.key: store for store in DataStore.objects.filter(enabled=True)}
    entries = dict(data["stores"])
    if PORTAL_STORE_KEY in entries and PORTAL_STORE_KEY in stores:
        # The portal's own tables are counted afresh: the person's choices and requests of a
        # minute ago count (the other systems are asked again by "Check again").
        entries[PORTAL_STORE_KEY] = _located(stores[PORTAL_STORE_KEY], _subject(user))
    found = [
        StoreHolding(stores[key], entry["status"], dict(entry.get("counts") or {}))
        for key, entry in entries.items()
        if key in stores
    ]
    found.sort(key=lambda holding: (holding.store.position, holding.store.name))
    return Holdings(checking=False, checked_at=parse_datetime(data["checked_at"]), stores=found)


def holdings_request(*, user_id: int) -> None:
    """Ask a worker to check the stores for the person, unless a check is under way."""
    if not cache.add(_pending_key(user_id), True, PENDING_SECONDS):
        return
    from .tasks import holdings_compute_task

    transaction.on_commit(lambda: holdings_compute_task.delay(user_id))


def holdings_refresh(*, user: Any) -> None:
    """Forget the last result and check the stores again (the page's "check again")."""
    cache.delete_many([_key(user.pk), _pending_key(user.pk)])
    holdings_request(user_id=user.pk)


def _asked(store: DataStore, action: str) -> bool:
    """Return True if requests ask ``store`` for ``action`` (its connector can, and its
    configuration does not leave it out)."""
    try:
        supported = action in connector_class(store.connector).supports
    except ImportError:
        return False
    narrowed = (store.config or {}).get("actions")
    return supported and (not isinstance(narrowed, list) or action in narrowed)


def _unsearchable(store: DataStore) -> str:
    if _asked(store, "export"):
        return BY_STAFF
    return RECIPIENT if store.is_recipient else ON_REQUEST


def _subject(user: Any) -> Subject:
    """Who to search the stores for: the account's identities."""
    from accounts.selectors import account_former_emails

    return Subject(
        email=normalise_email(user.email),
        customer_id=str(user.pk),
        phone=user.phone or None,
        name=user.full_name or None,
        former_emails=account_former_emails(user.pk, searchable=True),
    )


def _located(store: DataStore, subject: Subject) -> dict[str, Any]:
    """What ``store`` holds about ``subject``, as the cache keeps it."""
    if not _asked(store, "locate"):
        return {"status": _unsearchable(store)}
    try:
        located = connector_for(store).locate(subject)
    except StoreError as error:
        logger.warning("store search failed", extra={"store": store.key, "error": str(error)})
        return {"status": UNAVAILABLE}
    except Exception:
        logger.exception("store search crashed", extra={"store": store.key})
        return {"status": UNAVAILABLE}
    counts = {str(entity): int(count) for entity, count in located.counts.items() if count}
    return {"status": FOUND if counts else NOTHING, "counts": counts}


def holdings_compute(user_id: int) -> None:
    """Run every enabled store's ``locate`` for the account and cache the counts."""
    from accounts.models import User

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        cache.delete(_pending_key(user_id))
        return
    subject = _subject(user)
    result = {
        store.key: _located(store, subject)
        for store in DataStore.objects.filter(enabled=True).order_by("position", "name")
    }
    cache.set(
        _key(user_id),
        {"checked_at": timezone.now().isoformat(), "stores": result},
        settings.DSR_HOLDINGS_CACHE_SECONDS,
    )
    cache.delete(_pending_key(user_id))
