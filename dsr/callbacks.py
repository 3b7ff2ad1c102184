"""Deferred results from Inper's services: the signed callbacks of the HTTP store protocol.

A service that accepted an action (HTTP 202) posts its result later to the portal's callback
URL, signed with the store's secret and naming the task's idempotency key. The result is
recorded only if every check passes: a known key, a task waiting for exactly this callback,
a valid signature, a fresh timestamp, and a document that follows the protocol. Every
refusal is answered with a 4xx status and logged; a refusal about a real task (its key is
known: a bad signature, a stale timestamp, a malformed document, a replay) is also written to
the audit trail (ids and a reason code, never the document). A post without a known key is
not: anyone can send one, and they would fill the trail officers read.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from privacy_portal.audit.services import audit_record

from . import engine, notifications
from .connectors.base import ExportResult, StoreError, error_detail
from .connectors.http import (
    PROTOCOL_VERSION,
    configured_descriptions,
    error_code,
    result_from,
    signature_valid,
    timestamp_fresh,
)
from .models import StoreTask, TaskState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallbackOutcome:
    """The answer to one callback: an HTTP status and a code the service can act on."""

    status: int
    code: str

    @property
    def accepted(self) -> bool:
        return self.status == 200


def _refuse(status: int, code: str, task: StoreTask | None = None) -> CallbackOutcome:
    if task is not None:
        with transaction.atomic():
            audit_record(
                actor=None,
                action="dsr.callback.refused",
                target=task,
                scope=f"dsr.datasubjectrequest:{task.request_id}",
                after={"status": status, "store": task.store_id},
                reason=code,
            )
    logger.warning("store callback refused", extra={"code": code, "status": status})
    return CallbackOutcome(status, code)


def store_callback_receive(
    *, body: bytes, idempotency_key: str, timestamp: str, signature: str
) -> CallbackOutcome:
    """Check a service's callback and record the result it carries on the waiting task."""
    try:
        key = uuid.UUID(idempotency_key)
    except (TypeError, ValueError):
        return _refuse(400, "missing_idempotency_key")
    task = StoreTask.objects.select_related("store").filter(idempotency_key=key).first()
    if task is None:
        return _refuse(404, "unknown_idempotency_key")
    secrets = [
        task.store.secrets.get(name, "") for name in ("signing_secret", "previous_signing_secret")
    ]
    if not signature_valid(secrets, timestamp, body, signature):
        return _refuse(401, "bad_signature", task)
    if not timestamp_fresh(timestamp):
        return _refuse(401, "stale_timestamp", task)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return _refuse(400, "malformed", task)
    if (
        not isinstance(document, Mapping)
        or document.get("protocol") != PROTOCOL_VERSION
        or document.get("idempotency_key") != str(key)
        or document.get("action") != engine.connector_action(task.action)
        or document.get("status") not in ("done", "failed")
    ):
        return _refuse(400, "malformed", task)
    return _record(task.pk, document)


def _record(task_id: int, document: Mapping[str, Any]) -> CallbackOutcome:
    # A failure is recorded in the portal's language, not the one the service's request chose.
    with translation.override(settings.LANGUAGE_CODE), transaction.atomic():
        task = StoreTask.objects.select_for_update().select_related("store").get(pk=task_id)
        if task.state != TaskState.WAITING or task.waiting_for != "callback":
            refused = (task, "not_waiting")
        else:
            refused = None
            _complete(task, document)
    if refused is not None:
        return _refuse(409, refused[1], refused[0])
    return CallbackOutcome(200, "recorded")


def _complete(task: StoreTask, document: Mapping[str, Any]) -> None:
    """Record the callback's result or failure on the locked, waiting task."""
    now = timezone.now()
    failure: dict[str, Any] | None = None
    if document["status"] == "failed":
        code = error_code(document)
        failure = (
            error_detail(gettext_noop("The service reported that it failed (%(code)s)."), code=code)
            if code
            else error_detail(gettext_noop("The service reported that it failed."))
        )
    else:
        try:
            result = engine.answer_checked(task.action, _result(task, document.get("result")))
        except StoreError as error:
            failure = error.detail
        else:
            task.state = TaskState.SUCCEEDED
            task.receipt = engine._jsonable(result)
    if failure:
        task.state = TaskState.FAILED
        engine._set_error(task, failure)
        task.error_permanent = True
    task.finished_at = now
    task.save()
    _audit_task(task, f"dsr.task.{task.state}", via="callback")
    if failure:
        notifications.task_failed(task)
    engine.advance_on_commit(task.request_id)


def _audit_task(task: StoreTask, action: str, **after: Any) -> None:
    audit_record(
        actor=None,
        action=action,
        target=task,
        scope=f"dsr.datasubjectrequest:{task.request_id}",
        after={"store": task.store_id, "action": task.action, **after},
    )


def _result(task: StoreTask, data: Any) -> Any:
    if task.action != "export":
        return result_from(engine.connector_action(task.action), data)
    from .packages import PartSink

    with PartSink.for_task(task) as sink:
        result = result_from(
            "export", data, sink, described=configured_descriptions(task.store.config)
        )
        if isinstance(result, ExportResult):
            sink.commit(result)
    return result


def callbacks_overdue(*, now: datetime | None = None, request_id: int | None = None) -> list[int]:
    """Ask services again (with the same idempotency key) for results that are overdue, and
    fail, for staff to look at, the tasks that have used up their attempts; return the ids of
    the tasks handled. Run by beat (the demo requests ask for one request's)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.DSR_CALLBACK_TIMEOUT_SECONDS)
    tasks = StoreTask.objects.filter(
        state=TaskState.WAITING,
        waiting_for="callback",
        started_at__lt=cutoff,
    ).filter(engine.RUNNABLE)
    if request_id is not None:
        tasks = tasks.filter(request_id=request_id)
    overdue = list(tasks.values_list("pk", flat=True))
    handled = []
    for task_id in overdue:
        with transaction.atomic():
            task = (
                StoreTask.objects.select_for_update(skip_locked=True)
                .select_related("request", "store")
                .filter(pk=task_id, state=TaskState.WAITING, started_at__lt=cutoff)
                .first()
            )
            if task is None:
                continue
            handled.append(task.pk)
            if task.attempts >= task.max_attempts:
                task.state = TaskState.FAILED
                task.error_permanent = True
                task.finished_at = now
                engine._set_error(
                    task,
                    {
                        **error_detail(gettext_noop("The service did not post its result.")),
                        "attempts": task.attempts,
                    },
                )
            else:
                task.state = TaskState.QUEUED
            task.waiting_for = ""
            task.save()
            _audit_task(task, f"dsr.task.callback_overdue.{task.state}", attempts=task.attempts)
            if task.state == TaskState.FAILED:
                notifications.task_failed(task)
                engine.advance_on_commit(task.request_id)
            else:
                engine.enqueue_on_commit([task.pk])
    return handled
