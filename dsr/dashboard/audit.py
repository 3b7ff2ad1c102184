"""The audit trail as officers read it: filtered, paged by sequence number (newest first, so a
page costs the same however long the chain is), exported as CSV, and the chain's state as the
last verification found it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from privacy_portal.audit.models import AuditEvent
from privacy_portal.audit.services import audit_record

from ..models import DataSubjectRequest

PAGE_SIZE = 100
CSV_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_type",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "scope",
    "before",
    "after",
    "reason",
    "prev_hash",
    "hash",
)
CHAIN_ACTIONS = ("audit.chain.verified", "audit.chain.broken")


def events(filters: Mapping[str, Any]) -> QuerySet[AuditEvent]:
    """Return the events matching ``filters`` (see the dashboard's audit filter form), newest
    first. A request reference selects the events of that request's timeline."""
    queryset = AuditEvent.objects.all()
    if filters.get("action"):
        queryset = queryset.filter(action__startswith=filters["action"])
    if filters.get("reference"):
        pk = (
            DataSubjectRequest.objects.filter(reference=str(filters["reference"]).strip().upper())
            .values_list("pk", flat=True)
            .first()
        )
        queryset = queryset.filter(scope=f"dsr.datasubjectrequest:{pk}")
    if filters.get("object_type"):
        queryset = queryset.filter(object_type=filters["object_type"])
    if filters.get("object_id"):
        queryset = queryset.filter(object_id=filters["object_id"])
    if filters.get("actor_type"):
        queryset = queryset.filter(actor_type=filters["actor_type"])
    if filters.get("actor_id"):
        queryset = queryset.filter(actor_id=filters["actor_id"])
    zone = timezone.get_current_timezone()
    if filters.get("since"):
        queryset = queryset.filter(
            occurred_at__gte=datetime.combine(filters["since"], time.min, tzinfo=zone)
        )
    if filters.get("until") and filters["until"] < date.max:  # the last day has no end
        queryset = queryset.filter(
            occurred_at__lt=datetime.combine(
                filters["until"] + timedelta(days=1), time.min, tzinfo=zone
            )
        )
    return queryset.order_by("-seq")


def page(filters: Mapping[str, Any]) -> tuple[list[AuditEvent], int | None]:
    """Return one page of events, and the ``before`` value of the next (older) page."""
    queryset = events(filters)
    if filters.get("before"):
        queryset = queryset.filter(seq__lt=filters["before"])
    rows = list(queryset[: PAGE_SIZE + 1])
    older = rows[PAGE_SIZE - 1].seq if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], older


def csv_rows(queryset: QuerySet[AuditEvent]) -> Iterator[list[Any]]:
    """Yield a header and the events as CSV rows, reading the table in chunks."""
    yield list(CSV_COLUMNS)
    for event in queryset.iterator(chunk_size=2000):
        yield [
            event.seq,
            event.occurred_at.isoformat(),
            event.actor_type,
            event.actor_id if event.actor_id is not None else "",
            event.action,
            event.object_type,
            event.object_id,
            event.scope,
            _json(event.before),
            _json(event.after),
            event.reason,
            event.prev_hash,
            event.hash,
        ]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if value else ""


#: What a filter typed into a free-text field may look like to be kept in the trail as it is:
#: codes ("dsr.request.state_changed"), references and numeric ids.
_FILTER_CODE = re.compile(r"[a-z0-9_.]{1,64}|[A-Z]{2,5}-\d{4}-\d{1,9}|\d{1,20}")


@transaction.atomic
def audit_export_record(*, actor: Any, filters: Mapping[str, Any]) -> None:
    """Audit that ``actor`` exported the trail, with the filters used: codes, references, ids
    and dates; anything else typed into a text field (an address, a name) only as "(text)"."""
    kept = {}
    for name, value in filters.items():
        if name == "before":
            continue
        text = str(value)
        kept[name] = (
            text if not isinstance(value, str) or _FILTER_CODE.fullmatch(text) else "(text)"
        )
    audit_record(actor=actor, action="audit.exported", target=("audit.chain", "1"), after=kept)


@dataclass(frozen=True)
class ChainState:
    """The chain as its last verification found it (None: never verified)."""

    verified_at: datetime | None
    ok: bool | None
    checked: int
    broken_seq: int | None
    broken_id: int | None
    problem: str
    head_seq: int
    #: ``"<seq>:<hash>"`` of the last event that check verified, to keep outside the database.
    anchor: str = ""


def chain_state() -> ChainState:
    """Return the outcome of the chain's last verification (the daily task, or an officer's
    "verify now"), and the chain's current length."""
    last = (
        AuditEvent.objects.filter(action__in=CHAIN_ACTIONS)
        .order_by("-seq")
        .only("occurred_at", "after")
        .first()
    )
    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    if last is None:
        return ChainState(None, None, 0, None, None, "", head)
    after = last.after or {}
    return ChainState(
        verified_at=last.occurred_at,
        ok=bool(after.get("ok")),
        checked=int(after.get("checked") or 0),
        broken_seq=after.get("broken_seq"),
        broken_id=after.get("broken_id"),
        problem=str(after.get("problem") or ""),
        head_seq=head,
        anchor=str(after.get("anchor") or ""),
    )


def chain_verify_start(*, actor: Any) -> None:
    """Ask a worker to verify the whole chain now (it records the outcome as an event)."""
    from privacy_portal.audit.tasks import audit_chain_verify_task

    with transaction.atomic():
        audit_record(
            actor=actor, action="audit.chain.verify_requested", target=("audit.chain", "1")
        )
        transaction.on_commit(audit_chain_verify_task.delay)
