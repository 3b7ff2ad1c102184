"""The erasure preview an officer sees before approving: what each store holds about the person
(``locate``, run by workers, one store per task, so that a slow store never holds up the page
or the others) and what the erasure plan will delete, anonymise or retain there.

Results are counts per entity (no personal data); they live in the cache for
``PREVIEW_TTL`` seconds under a token, so that a newer preview replaces an older one.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from privacy_portal.audit.services import audit_record

from ..connectors.base import PlannedErasure, StoreError, error_detail, error_text
from ..connectors.registry import connector_class, connector_for
from ..identity import subject_of
from ..models import Action, DataStore, DataSubjectRequest, RequestType, State
from ..services import TransitionError, connector_supports, store_reaches
from ..texts import store_entity_name

logger = logging.getLogger(__name__)

#: How long a preview is kept, and how long a store may take to answer.
PREVIEW_TTL = 30 * 60
PREVIEW_TIMEOUT = 60

_PREVIEWABLE = (State.VERIFIED, State.IN_REVIEW)


def _key(request_id: int, *parts: object) -> str:
    return ":".join(["dsr-preview", str(request_id), *map(str, parts)])


def _erasure_part(store: DataStore) -> str:
    """How ``store`` takes part in an erasure (see ``StorePreview.erasure``)."""
    if connector_supports(store, Action.ERASE):
        try:
            manual = connector_class(store.connector).kind == "manual"
        except ImportError:
            manual = False
        return "staff" if manual else "itself"
    if store.is_recipient and connector_supports(store, Action.NOTIFY):
        return "told"
    return "none"


def dsr_request_preview_start(*, request: DataSubjectRequest, actor: Any) -> str:
    """Start searching every enabled store for the person of an erasure awaiting approval;
    return the preview's token. The search itself runs on the workers."""
    if request.type != RequestType.ERASURE:
        raise TransitionError(_("Only erasures have a preview."))
    with transaction.atomic():
        locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        if locked.state not in _PREVIEWABLE or not locked.subject_snapshot:
            raise TransitionError(_("The preview is only available before an erasure is approved."))
        stores = [
            store.pk
            for store in DataStore.objects.filter(enabled=True)
            if connector_supports(store, Action.LOCATE)
        ]
        token = secrets.token_hex(8)
        cache.set(
            _key(locked.pk),
            {"token": token, "started_at": timezone.now().isoformat(), "stores": stores},
            PREVIEW_TTL,
        )
        audit_record(
            actor=actor, action="dsr.request.previewed", target=locked, after={"stores": stores}
        )

        def send() -> None:
            from ..tasks import preview_locate_task

            for store_id in stores:
                preview_locate_task.delay(locked.pk, store_id, token)

        transaction.on_commit(send)
    return token


def preview_locate(request_id: int, store_id: int, token: str) -> None:
    """Search one store for the person of a preview (the body of the worker's task)."""
    current = cache.get(_key(request_id)) or {}
    if current.get("token") != token:
        return  # a newer preview replaced this one, or it expired
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    store = DataStore.objects.filter(pk=store_id).first()
    if request is None or store is None:
        return
    result: dict[str, Any]
    try:
        located = connector_for(store).locate(subject_of(request))
        result = {"state": "done", "counts": dict(located.counts)}
    except StoreError as error:
        result = {"state": "failed", "error": error.detail}
    except Exception as error:
        # Unexpected errors may quote data: keep the type only (the log has the traceback).
        logger.exception("preview search crashed", extra={"store": store.key})
        result = {
            "state": "failed",
            "error": error_detail(
                gettext_noop("Unexpected error (%(error)s)."), error=error.__class__.__name__
            ),
        }
    cache.set(_key(request_id, token, store_id), result, PREVIEW_TTL)


@dataclass
class StorePreview:
    store: DataStore
    state: str  # "searching", "done", "failed", "late", "not_searched"
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""
    plan: list[PlannedErasure] = field(default_factory=list)
    plan_error: str = ""
    #: How the store takes part in the erasure: "itself" (its connector erases), "staff" (a
    #: step for staff), "told" (a recipient told of it), "unreached" (it cannot find the person
    #: by what is known of them: not asked), "none".
    erasure: str = "none"
    #: For "unreached": the identities the store finds people by, in words.
    finds_by: str = ""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def rows(self) -> list[tuple[str, int | None, PlannedErasure | None]]:
        """Return per entity: the records found (None before the search answered) and what
        the erasure will do (None if the plan does not name the entity)."""
        planned = {item.entity: item for item in self.plan}
        entities = [*planned, *(entity for entity in self.counts if entity not in planned)]
        return [
            (
                # Named as the store names it, or as the portal titles its own records; a step
                # for staff (planned under the store's key) by the store's name.
                str(self.store.local_name)
                if entity == self.store.key
                else store_entity_name(self.store, entity, for_staff=True),
                self.counts.get(entity, 0) if self.state == "done" else None,
                planned.get(entity),
            )
            for entity in entities
        ]


@dataclass
class Preview:
    started_at: datetime | None
    stores: list[StorePreview]

    @property
    def running(self) -> bool:
        return any(store.state == "searching" for store in self.stores)


def erasure_preview(request: DataSubjectRequest) -> Preview:
    """Return each enabled store's erasure plan and, once a preview was started, what the
    search found there (or that it is still searching, failed, or did not answer in time)."""
    current = cache.get(_key(request.pk)) or {}
    token = current.get("token")
    searched = set(current.get("stores") or [])
    started = parse_datetime(current.get("started_at") or "") if token else None
    stores = list(DataStore.objects.filter(enabled=True).order_by("position", "name"))
    subject = subject_of(request)
    results = (
        cache.get_many([_key(request.pk, token, store.pk) for store in stores]) if token else {}
    )
    late = started is not None and (timezone.now() - started).total_seconds() > PREVIEW_TIMEOUT
    previews = []
    for store in stores:
        result = results.get(_key(request.pk, token, store.pk))
        if not token or store.pk not in searched:
            preview = StorePreview(store, "not_searched")
        elif result is None:
            preview = StorePreview(store, "late" if late else "searching")
        else:
            preview = StorePreview(
                store,
                result["state"],
                counts={str(k): int(v) for k, v in (result.get("counts") or {}).items()},
                error=error_text(result.get("error"))[:500],
            )
        try:
            preview.plan = connector_for(store).erasure_plan()
        except StoreError as error:
            preview.plan_error = str(error)[:500]
        if store_reaches(store, subject):
            preview.erasure = _erasure_part(store)
        else:
            preview.erasure = "unreached"
            preview.finds_by = store.identities_text()
        previews.append(preview)
    return Preview(started, previews)
