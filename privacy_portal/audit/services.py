"""Writing to the audit trail."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Field
from django.utils import timezone

from privacy_portal.dbutils import (
    insert_into,
    insert_params,
    mark_saved,
    quoted_column,
    quoted_table,
)

from .models import ActorType, AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


def event_digest(event: AuditEvent) -> str:
    """Return the SHA-256 over every field of ``event`` and the hash before it."""
    payload = {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "scope": event.scope,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def object_ref(obj: models.Model) -> tuple[str, str]:
    """Return ``(object_type, object_id)`` for a model instance, e.g. ("dsr.request", "42")."""
    return obj._meta.label_lower, str(obj.pk)


def scope_of(obj: models.Model) -> str:
    """Return the timeline scope of a model instance, e.g. "accounts.user:7"."""
    object_type, object_id = object_ref(obj)
    return f"{object_type}:{object_id}"


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | tuple[str, str],
    scope: str | models.Model = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str = "",
    actor_type: ActorType | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction.

    ``actor`` is the user who acted, or None for the system; an API client passes its id with
    ``actor_type=ActorType.API``. ``before``/``after`` hold states and field names, never values
    of personal data. The chain head is locked until the caller's transaction ends, so callers
    should record audit events after taking their own row locks.
    """
    if isinstance(target, models.Model):
        object_type, object_id = object_ref(target)
    else:
        object_type, object_id = target
    if isinstance(scope, models.Model):
        scope = scope_of(scope)
    if actor_type is None:
        declared = getattr(actor, "audit_actor_type", None)
        actor_type = (
            ActorType(declared)
            if declared
            else (ActorType.PERSON if actor is not None else ActorType.SYSTEM)
        )
    actor_id = getattr(actor, "pk", actor)
    # No savepoint: an error here fails the caller's whole transaction, as it should.
    with transaction.atomic(savepoint=False):
        head = AuditChainHead.objects.select_for_update().get_or_create(pk=1)[0]
        event = AuditEvent(
            seq=head.seq + 1,
            occurred_at=timezone.now(),
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            scope=scope or f"{object_type}:{object_id}",
            before=dict(before or {}),
            after=dict(after or {}),
            reason=reason,
            prev_hash=head.hash,
        )
        event.hash = event_digest(event)
        head.seq, head.hash = event.seq, event.hash
        _append(event, head)
    return event


def _append(event: AuditEvent, head: AuditChainHead) -> None:
    """Insert ``event`` and save the locked ``head``."""
    append = _append_sql if connection.vendor == "postgresql" else _append_orm
    append(event, head)


def _append_orm(event: AuditEvent, head: AuditChainHead) -> None:
    event.save(force_insert=True)
    head.save(update_fields=("seq", "hash"))


@functools.cache
def _append_statement() -> tuple[tuple[Field[Any, Any], ...], str]:
    """The event's fields in column order and one statement that inserts it and moves the
    chain's head on (names from the models' metadata; every value is a parameter)."""
    fields, target, row = insert_into(AuditEvent)
    head = quoted_table(AuditChainHead)
    return fields, (
        f"WITH e AS (INSERT INTO {target} VALUES {row} "  # noqa: S608  # nosec B608
        f"RETURNING {quoted_column(AuditEvent, 'id')}), "
        f"h AS (UPDATE {head} SET {quoted_column(AuditChainHead, 'seq')} = %s, "
        f"{quoted_column(AuditChainHead, 'hash')} = %s "
        f"WHERE {quoted_column(AuditChainHead, 'id')} = %s) "
        f"SELECT {quoted_column(AuditEvent, 'id')} FROM e"
    )


def _append_sql(event: AuditEvent, head: AuditChainHead) -> None:
    """Insert ``event`` and save the locked ``head`` in one statement (PostgreSQL): an
    audited step costs two round trips instead of three."""
    fields, sql = _append_statement()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*insert_params(event, fields), head.seq, head.hash, head.pk])
        (pk,) = cursor.fetchone()
    mark_saved(event, pk)
