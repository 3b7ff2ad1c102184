"""Carrying requests out: store tasks claimed and run by workers, and requests advanced when
their work is done.

The database rows are the truth and Celery only moves them:

- a task row is claimed with one conditional UPDATE (queued, retrying, or running with an
  expired lease), so two deliveries of the same message cannot both run it;
- while it runs, the worker renews the row's lease; a worker that dies stops renewing, and the
  reconciler (beat) queues the row again when the lease runs out;
- the result is recorded only if the row is still this worker's claim (same attempt);
- the last task to finish advances the request under the request's row lock;
- connectors are idempotent, so a task that ran but whose result was lost runs again safely;
  a store in the portal's own database commits its change and the receipt together.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_noop

from privacy_portal.audit.services import audit_record
from privacy_portal.dbutils import quoted_column, quoted_table

from . import notifications
from .connectors.base import (
    Connector,
    EraseResult,
    ExportResult,
    Pending,
    PermanentStoreError,
    RestrictResult,
    StoreError,
    TaskContext,
    TemporaryStoreError,
    error_detail,
    error_text,
)
from .connectors.registry import connector_for
from .identity import subject_of
from .models import (
    LIFTABLE_STATES,
    Action,
    DataSubjectRequest,
    ExportPackage,
    RequestType,
    State,
    StoreTask,
    TaskState,
)

logger = logging.getLogger(__name__)

_PACKAGE_TYPES = (RequestType.ACCESS, RequestType.PORTABILITY)
#: Requests about how the person's data is used, not about what is held.
_CHOICE_TYPES = (RequestType.OBJECTION, RequestType.WITHDRAW_CONSENT)
# Actions that change a store's data (an export reads, in a transaction of its own).
_CHANGES = (Action.ERASE, Action.RESTRICT, Action.LIFT)
#: Tasks that may run: those of a running request, and the lifting of a carried-out
#: restriction.
RUNNABLE = Q(request__state__in=(State.RUNNING, State.WAITING)) | Q(
    action=Action.LIFT, request__state__in=LIFTABLE_STATES
)


def connector_action(action: str) -> str:
    """Return the connector action a task's ``action`` runs (as a service names it in its
    answers): lifting a restriction is the restrict action with ``lift``."""
    return Action.RESTRICT.value if action == Action.LIFT else action


# --- enqueueing ---------------------------------------------------------------------------------

_in_process = threading.local()


@contextmanager
def tasks_run_in_process() -> Iterator[None]:
    """Send workers no messages within this block: its caller runs the tasks itself (the demo
    data, which would otherwise leave a new portal's worker hundreds of messages for work
    already done, ahead of the first real request). A task left queued is still found by the
    reconciler."""
    _in_process.active = True
    try:
        yield
    finally:
        _in_process.active = False


def _send_on_commit(send: Callable[[], None]) -> None:
    if not getattr(_in_process, "active", False):
        transaction.on_commit(send)


def enqueue_on_commit(task_ids: Iterable[int], *, countdown: float = 0) -> None:
    """Send the store tasks to the workers once the current transaction commits: exports to
    the exports queue (the worker that finishes the last one builds the package), the rest to
    the default queue."""
    ids = list(task_ids)
    if not ids:
        return
    StoreTask.objects.filter(pk__in=ids).update(enqueued_at=timezone.now())
    exports = set(
        StoreTask.objects.filter(pk__in=ids, action=Action.EXPORT).values_list("pk", flat=True)
    )

    def send() -> None:
        _send([(pk, pk in exports) for pk in ids], countdown=countdown)

    _send_on_commit(send)


def send_planned_on_commit(tasks: Iterable[StoreTask]) -> None:
    """:func:`enqueue_on_commit` for task rows just inserted with their ``enqueued_at`` set:
    their actions are known, so nothing needs updating or reading again."""
    planned = [(task.pk, task.action == Action.EXPORT) for task in tasks]

    def send() -> None:
        _send(planned)

    if planned:
        _send_on_commit(send)


def _send(tasks: list[tuple[int, bool]], *, countdown: float = 0) -> None:
    """Send each ``(task id, is an export)`` to its queue."""
    from .tasks import store_export_task, store_task_run_task

    for task_id, export in tasks:
        task = store_export_task if export else store_task_run_task
        task.apply_async((task_id,), countdown=countdown)


def advance_on_commit(request_id: int) -> None:
    """Ask a worker to advance the request once the current transaction commits."""

    def send() -> None:
        from .tasks import request_advance_task

        request_advance_task.delay(request_id)

    _send_on_commit(send)


def _advance_here_on_commit(request_id: int, *, build_here: bool) -> None:
    """Advance the request in this worker once the current transaction commits (one message
    fewer than :func:`advance_on_commit`), building its package here if ``build_here``. If that
    fails, a worker is asked to advance it; a build whose claim is still held is queued again
    by the reconciler once the claim expires."""

    def advance() -> None:
        try:
            request_advance(request_id, build_here=build_here)
        except Exception:
            logger.exception("advancing a request failed", extra={"request": request_id})
            from .tasks import request_advance_task

            request_advance_task.delay(request_id)

    transaction.on_commit(advance)


# --- running one store task ---------------------------------------------------------------------


def _claim(task_id: int) -> int | None:
    """Claim the task row; return the attempt number, or None if it is not ours to run (done,
    running under a live lease, its request no longer running, or its attempts used up: a
    task whose every attempt killed its worker is failed by :func:`reconcile`)."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.DSR_TASK_LEASE_SECONDS)
    claim = _claim_sql if connection.vendor == "postgresql" else _claim_orm
    return claim(task_id, now, lease)


def _claim_orm(task_id: int, now: datetime, lease: datetime) -> int | None:
    claimable = Q(state__in=(TaskState.QUEUED, TaskState.RETRYING)) | Q(
        state=TaskState.RUNNING, lease_expires_at__lt=now
    )
    with transaction.atomic():
        claimed = (
            StoreTask.objects.filter(claimable, pk=task_id, attempts__lt=F("max_attempts"))
            .filter(RUNNABLE)
            .update(
                state=TaskState.RUNNING,
                attempts=F("attempts") + 1,
                lease_expires_at=lease,
                started_at=now,
                next_attempt_at=None,
            )
        )
        if not claimed:
            return None
        attempts: int = StoreTask.objects.values_list("attempts", flat=True).get(pk=task_id)
    return attempts


@functools.cache
def _claim_statement() -> str:
    """:func:`_claim`'s UPDATE, returning the attempt number (PostgreSQL): one statement
    instead of an update and a read, claiming only what :data:`RUNNABLE` lets run. Names from
    the models' metadata; values are parameters."""
    column = functools.partial(quoted_column, StoreTask)
    request_state = quoted_column(DataSubjectRequest, "state")
    requests = (
        f"SELECT {quoted_column(DataSubjectRequest, 'id')} "  # noqa: S608  # nosec B608
        f"FROM {quoted_table(DataSubjectRequest)}"
    )
    return (
        f"UPDATE {quoted_table(StoreTask)} SET {column('state')} = %(running)s, "  # noqa: S608  # nosec B608
        f"{column('attempts')} = {column('attempts')} + 1, "
        f"{column('lease_expires_at')} = %(lease)s, {column('started_at')} = %(now)s, "
        f"{column('next_attempt_at')} = NULL "
        f"WHERE {column('id')} = %(task)s AND ({column('state')} IN (%(queued)s, %(retrying)s) "
        f"OR ({column('state')} = %(running)s AND {column('lease_expires_at')} < %(now)s)) "
        f"AND {column('attempts')} < {column('max_attempts')} "
        f"AND ({column('request')} IN ({requests} "
        f"WHERE {request_state} IN (%(request_running)s, %(request_waiting)s)) "
        f"OR ({column('action')} = %(lift)s AND {column('request')} IN ({requests} "
        f"WHERE {request_state} IN (%(request_completed)s, %(request_partial)s)))) "
        f"RETURNING {column('attempts')}"
    )


def _claim_sql(task_id: int, now: datetime, lease: datetime) -> int | None:
    params: dict[str, Any] = {
        "task": task_id,
        "now": now,
        "lease": lease,
        "running": TaskState.RUNNING.value,
        "queued": TaskState.QUEUED.value,
        "retrying": TaskState.RETRYING.value,
        "request_running": State.RUNNING.value,
        "request_waiting": State.WAITING.value,
        "request_completed": State.COMPLETED.value,
        "request_partial": State.PARTIALLY_COMPLETED.value,
        "lift": Action.LIFT.value,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_claim_statement(), params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


class _LeaseKeeper(threading.Thread):
    """Renews a claimed task's lease while the connector works."""

    def __init__(self, task_id: int, attempt: int) -> None:
        super().__init__(daemon=True, name=f"lease-{task_id}")
        self.task_id = task_id
        self.attempt = attempt
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(settings.DSR_TASK_LEASE_SECONDS / 3, 0.5)
        try:
            while not self.stopped.wait(interval):
                StoreTask.objects.filter(
                    pk=self.task_id, state=TaskState.RUNNING, attempts=self.attempt
                ).update(
                    lease_expires_at=timezone.now()
                    + timedelta(seconds=settings.DSR_TASK_LEASE_SECONDS)
                )
        except Exception:  # a lost renewal only means the task may run again (idempotent)
            logger.warning("lease renewal failed", extra={"task": self.task_id})
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Promise):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class RestrictionKept:
    """A lift that left the store's restriction in place: another restriction of the person's
    (``kept_for``, its reference) holds their data restricted there."""

    lifted: bool = False
    kept_for: str = ""


#: The states of a restriction's step in a store that holds, or is about to hold, the
#: person's data restricted there.
_APPLYING = (
    TaskState.QUEUED,
    TaskState.RUNNING,
    TaskState.RETRYING,
    TaskState.WAITING,
    TaskState.SUCCEEDED,
)


#: The states of a restriction that is, or is being, carried out (not one that was cancelled
#: or refused, whatever its steps had done).
_IN_FORCE = (
    State.APPROVED,
    State.RUNNING,
    State.WAITING,
    State.COMPLETED,
    State.PARTIALLY_COMPLETED,
)


#: Requests whose steps restrict the person's data in a store: a restriction, and an
#: objection or a withdrawal of consent for a use a store is registered as serving (a
#: standing objection to transfers keeps the group CRM's mark, whatever else is lifted).
_RESTRICTING_TYPES = (
    RequestType.RESTRICTION,
    RequestType.OBJECTION,
    RequestType.WITHDRAW_CONSENT,
)


def restriction_kept_for(task: StoreTask) -> str:
    """Return the reference of another request of the person's that holds their data
    restricted in ``task``'s store and is not being lifted ("" if none): another restriction,
    or an objection or withdrawal that restricted it and that the person has not taken back
    (switched the use on again). Lifting ``task``'s request there would undo it (a store keeps
    one mark per person, whichever request set it). Restrictions being lifted do not count,
    so that two lifted together both lift."""
    request = task.request
    if not request.subject_key:
        return ""
    restrictions = DataSubjectRequest.objects.filter(
        type__in=_RESTRICTING_TYPES,
        state__in=_IN_FORCE,
        subject_key=request.subject_key,
        restriction_lift_started_at__isnull=True,
    ).exclude(pk=request.pk)
    others = (
        StoreTask.objects.filter(store_id=task.store_id, action=Action.RESTRICT)
        .filter(state__in=_APPLYING, request__in=restrictions)
        .select_related("request")
        .order_by("pk")
    )
    for other in others:
        if other.request.type == RequestType.RESTRICTION or still_objected(other.request):
            return other.request.reference
    return ""


def still_objected(request: DataSubjectRequest) -> bool:
    """Whether the person still objects to (or withholds consent from) a use ``request``
    stopped: one of its purposes is off for them now. Where their choices cannot be found
    (the request's details were redacted), the restriction is kept."""
    from consent.selectors import consent_current, subject_find

    if request.user_id is not None:
        subject = subject_find(customer_id=request.user_id)
    else:
        subject = subject_find(email=request.email) if request.email else None
    if subject is None:
        return True
    off = {choice.key for choice in consent_current(subject) if not choice.granted}
    return bool(off & set(request.purposes or ()))


def _call(connector: Connector, task: StoreTask) -> Any:
    subject = subject_of(task.request)
    action = task.action
    if action == Action.LOCATE:
        return connector.locate(subject)
    if action == Action.EXPORT:
        from .packages import PartSink

        if ExportPackage.objects.filter(
            request_id=task.request_id, purged_at__isnull=False
        ).exists():
            # The person's erasure destroyed the copy (and its key): nothing is read for it.
            return ExportResult()
        with PartSink.for_task(task) as sink:
            result = connector.export(subject, sink)
            if isinstance(result, ExportResult):
                sink.commit(result)
        return result
    if action == Action.ERASE:
        return connector.erase(subject)
    if action == Action.RESTRICT:
        return connector.restrict(subject)
    if action == Action.LIFT:
        if not (subject.email or subject.customer_id):
            # The request's record was redacted: nothing says whose restriction to lift.
            raise PermanentStoreError(gettext_noop("The request no longer names the person."))
        kept_for = restriction_kept_for(task)
        if kept_for:
            return RestrictionKept(kept_for=kept_for)
        return connector.restrict(subject, lift=True)
    if action == Action.RECTIFY:
        return connector.rectify(subject, {"details": task.request.details})
    if action == Action.NOTIFY:
        if task.request.type == RequestType.RECTIFICATION:
            # The recipient corrects its copy as the person says (GDPR Art. 19).
            return connector.notify(
                subject, request_type=task.request.type, changes={"details": task.request.details}
            )
        return connector.notify(subject, request_type=task.request.type)
    raise PermanentStoreError(gettext_noop("Unknown step %(action)s."), action=action)


def erasure_checked(result: Any) -> Any:
    """Return ``result``, unless it is an erasure whose own check found records it should
    have removed: that erasure is not done, whatever else it did (an erasure is safe to run
    again)."""
    if isinstance(result, EraseResult) and not result.clean:
        left = {entity: n for entity, n in result.remaining.items() if n}
        raise TemporaryStoreError(
            gettext_noop(
                "%(n)d records that the erasure should have removed are still there (%(entities)s)."
            ),
            n=sum(left.values()),
            entities=", ".join(sorted(left)),
        )
    return result


def answer_checked(action: str, result: Any) -> Any:
    """Return ``result``, the store's answer to a task's ``action``, unless it says the action
    is not done: an erasure that left records behind (:func:`erasure_checked`), or a lift
    answered with the restriction still in force (a service that took it for a restriction:
    the person's data stays blocked there, so the lift must not count as done)."""
    if action == Action.LIFT and isinstance(result, RestrictResult) and not result.lifted:
        raise PermanentStoreError(
            gettext_noop("The store answered that the person's data is still restricted.")
        )
    return erasure_checked(result)


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter, capped at an hour."""
    base = settings.DSR_RETRY_BASE_SECONDS * (2 ** max(attempt - 1, 0))
    return min(3600.0, random.uniform(base / 2, base))  # noqa: S311 (jitter, not secrets)


def task_run(task_id: int) -> None:
    """Claim a store task, run its connector action, and record what happened; its error, if
    any, in the portal's language, whatever a web request left active in this thread."""
    with translation.override(settings.LANGUAGE_CODE):
        _task_run(task_id)


def _task_run(task_id: int) -> None:
    attempt = _claim(task_id)
    if attempt is None:
        return
    task = StoreTask.objects.select_related("store", "request").get(pk=task_id)
    keeper = _LeaseKeeper(task_id, attempt)
    keeper.start()
    recorded = False
    try:
        context = TaskContext(
            idempotency_key=str(task.idempotency_key),
            action=task.action,
            request_reference=task.request.reference,
            request_type=task.request.type,
        )
        connector = connector_for(task.store, context=context)
        if connector.same_database and task.action in _CHANGES:
            # The change and its receipt commit together: a worker killed between them would
            # otherwise leave the change done and the receipt lost, and the task's next run
            # would find nothing left to report.
            with transaction.atomic():
                result = answer_checked(task.action, _call(connector, task))
                _record_result(task, attempt, result)
            recorded = True
        else:
            result = answer_checked(task.action, _call(connector, task))
    except TemporaryStoreError as error:
        _record_failure(task, attempt, error.detail, permanent=attempt >= task.max_attempts)
        return
    except SoftTimeLimitExceeded:
        _record_failure(
            task,
            attempt,
            error_detail(gettext_noop("The step took longer than its time limit.")),
            permanent=attempt >= task.max_attempts,
        )
        return
    except StoreError as error:
        _record_failure(task, attempt, error.detail, permanent=True, gave_up=False)
        return
    except Exception as error:
        # Unexpected errors may quote data: keep only the type for staff; the traceback goes
        # to the (masked) log.
        logger.exception("store task crashed", extra={"task": task_id, "store": task.store.key})
        detail = error_detail(
            gettext_noop("Unexpected error (%(error)s)."), error=error.__class__.__name__
        )
        _record_failure(task, attempt, detail, permanent=True, gave_up=False)
        return
    finally:
        keeper.stop()
    if not recorded:
        _record_result(task, attempt, result)


def _record_result(task: StoreTask, attempt: int, result: Any) -> None:
    now = timezone.now()
    with transaction.atomic():
        mine = (
            StoreTask.objects.select_for_update()
            .filter(pk=task.pk, state=TaskState.RUNNING, attempts=attempt)
            .first()
        )
        if mine is None:
            return  # the lease expired and another worker took over
        if isinstance(result, Pending):
            mine.state = TaskState.WAITING
            mine.waiting_for = result.kind[:16]
            mine.instructions = result.instructions[:4000]
            mine.external_reference = result.reference[:200]
            if result.kind == "manual":
                mine.assigned_group = str(task.store.config.get("assigned_group", ""))[:80]
        else:
            mine.state = TaskState.SUCCEEDED
            mine.receipt = _jsonable(result)
            mine.finished_at = now
        mine.error = ""
        mine.error_detail = None
        mine.lease_expires_at = None
        mine.save()
        _audit_state(mine, attempt)
        if mine.state == TaskState.WAITING and mine.waiting_for == "manual":
            # A step for staff; a store that answers later by callback needs nobody.
            notifications.manual_task_waiting(mine)
        # The worker that ran the last export builds the package: it is on the exports queue.
        _advance_here_on_commit(mine.request_id, build_here=mine.action == Action.EXPORT)
        if mine.state == TaskState.SUCCEEDED and _account_deleted(task, mine.receipt):
            # After the advance: a request it completed said so in its own e-mail.
            transaction.on_commit(functools.partial(notifications.account_deleted, mine.request_id))


def _account_deleted(task: StoreTask, receipt: Any) -> bool:
    """Whether a step's receipt says it deleted the person's account in the portal."""
    from .portal_store import PORTAL_STORE_KEY

    if task.store.key != PORTAL_STORE_KEY or task.action != Action.ERASE:
        return False
    deleted = receipt.get("deleted") if isinstance(receipt, dict) else None
    return isinstance(deleted, dict) and bool(deleted.get("account"))


def _record_failure(
    task: StoreTask, attempt: int, detail: dict[str, Any], *, permanent: bool, gave_up: bool = True
) -> None:
    """Record a failed attempt: retried later, or, if ``permanent``, failed for staff (after
    ``attempt`` attempts if ``gave_up``: the error was worth retrying, but no more)."""
    if permanent and gave_up:
        detail = {**detail, "attempts": attempt}
    with transaction.atomic():
        mine = (
            StoreTask.objects.select_for_update()
            .filter(pk=task.pk, state=TaskState.RUNNING, attempts=attempt)
            .first()
        )
        if mine is None:
            return
        if permanent:
            _fail(mine, detail, attempt=attempt)
            _advance_here_on_commit(mine.request_id, build_here=mine.action == Action.EXPORT)
            return
        delay = _backoff(attempt)
        _set_error(mine, detail)
        mine.lease_expires_at = None
        mine.state = TaskState.RETRYING
        mine.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        mine.save()
        _audit_state(mine, attempt)
        enqueue_on_commit([mine.pk], countdown=delay)


def _set_error(task: StoreTask, detail: dict[str, Any]) -> None:
    """Store ``detail`` on ``task``, and its text in the portal's language (for searches,
    the API and the log of what staff saw)."""
    task.error_detail = detail
    with translation.override(settings.LANGUAGE_CODE):
        task.error = error_text(detail)[:2000]


def _fail(task: StoreTask, detail: dict[str, Any], *, attempt: int) -> None:
    """Fail ``task`` for staff to retry (the caller holds its row lock): audited, and the
    officers told."""
    _set_error(task, detail)
    task.lease_expires_at = None
    task.state = TaskState.FAILED
    task.error_permanent = True
    task.finished_at = timezone.now()
    task.save()
    _audit_state(task, attempt)
    notifications.task_failed(task)


def _audit_state(task: StoreTask, attempt: int) -> None:
    """Audit the task's new state; a failure with its error, as stored (each reader reads it
    in their language): the trail keeps why a step failed after a retry clears the row."""
    failed = task.state in (TaskState.FAILED, TaskState.RETRYING) and task.error_detail
    audit_record(
        actor=None,
        action=f"dsr.task.{task.state}",
        target=task,
        scope=f"dsr.datasubjectrequest:{task.request_id}",
        after={
            "store": task.store_id,
            "action": task.action,
            "attempt": attempt,
            **({"error": task.error_detail} if failed else {}),
        },
    )


# --- advancing a request ------------------------------------------------------------------------


def request_advance(request_id: int, *, build_here: bool = False) -> None:
    """Move a running request on once its tasks allow it (the last task to finish does this,
    under the request's row lock, so that exactly one caller completes the request).

    A package still to be built is built in this process when ``build_here`` (a worker of the
    exports queue), else by a worker of that queue."""
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is not None and request.state in LIFTABLE_STATES and request.restriction_lifting:
            _advance_lift(request)
            return
        if request is None or request.state not in (State.RUNNING, State.WAITING):
            return
        tasks = list(request.tasks.values_list("state", "receipt", "store_id", "action"))
        states = [state for state, *_ in tasks]
        active = [
            s for s in states if s in (TaskState.QUEUED, TaskState.RUNNING, TaskState.RETRYING)
        ]
        if active:
            if request.state == State.WAITING:
                _transition(request, State.RUNNING, "tasks_running")
            return
        if TaskState.WAITING in states:
            if request.state != State.WAITING:
                _transition(request, State.WAITING, "waiting_on_manual_or_external_step")
            return
        if TaskState.FAILED in states and request.failed_steps_accepted_at is None:
            # A step failed for good: the person is not answered in part while an officer may
            # still retry it (they retry it, or answer without it: services.dsr_request_answer_
            # without_failed).
            if request.state != State.WAITING:
                _transition(request, State.WAITING, "step_failed")
            return
        if TaskState.FAILED not in states and not any(
            action == Action.NOTIFY for *_, action in tasks
        ):
            # Recipients are told once the person's data was dealt with everywhere, if any was
            # found (a step that failed first: once an officer's retry of it succeeded).
            from .services import plan_recipients

            told = plan_recipients(
                request,
                [
                    (store, action, receipt)
                    for state, receipt, store, action in tasks
                    if state == TaskState.SUCCEEDED
                ],
            )
            if told:
                send_planned_on_commit(told)
                if request.state == State.WAITING:
                    _transition(request, State.RUNNING, "tasks_running")
                return
        if request.state == State.WAITING:
            request = _transition(request, State.RUNNING, "all_steps_done")
        failed = TaskState.FAILED in states
        if request.type in _PACKAGE_TYPES:
            package = ExportPackage.objects.filter(request=request).first()
            if package is not None and package.built_at is None:
                if package.purged_at is None:
                    _build_package_on_commit(request.pk, here=build_here)
                    return
                # The person's erasure destroyed the copy before it was finished (and the parts
                # of an export that was running meanwhile go now).
                from .packages import parts_discard_on_commit
                from .services import _finish

                parts_discard_on_commit(request.pk)
                _finish(request, outcome="copy_erased", partial=False)
                return
        from .services import _finish

        # "Nothing found" answers a request about the person's data; an objection or a
        # withdrawal changes how it is used, whatever the stores asked hold.
        found = request.type in _CHOICE_TYPES or found_anything(
            receipt for state, receipt, *_ in tasks if state == TaskState.SUCCEEDED
        )
        _finish(
            request, outcome="no_data_found" if not found and not failed else "done", partial=failed
        )


def _advance_lift(request: DataSubjectRequest) -> None:
    """Record a restriction as lifted once every store lifted it (the caller holds the
    request's row lock). A store that failed waits for an officer to retry it."""
    states = set(request.tasks.filter(action=Action.LIFT).values_list("state", flat=True))
    if states <= {TaskState.SUCCEEDED, TaskState.SKIPPED}:
        from .services import restriction_lift_finish

        restriction_lift_finish(request)


def _transition(request: DataSubjectRequest, to: str, reason: str) -> DataSubjectRequest:
    from .services import transition_locked

    return transition_locked(request, to=to, actor=None, reason=reason)


def found_anything(receipts: Iterable[dict[str, Any] | None]) -> bool:
    """Return True if any store held something about the person, by the ``receipts`` of the
    request's succeeded tasks, not counting the records of their own requests and the copies
    made for them (which exist because they asked)."""
    from .personal_data import OWN_ENTITIES

    for receipt in receipts:
        receipt = receipt or {}
        for key in ("counts", "deleted", "anonymised"):
            if any(
                n for entity, n in (receipt.get(key) or {}).items() if entity not in OWN_ENTITIES
            ):
                return True
        if any(kept.get("entity") not in OWN_ENTITIES for kept in receipt.get("retained") or []):
            return True
        if receipt.get("files") or (receipt.get("manual") and not receipt.get("nothing_held")):
            return True
    return False


def _build_package_on_commit(request_id: int, *, here: bool = False) -> None:
    def send() -> None:
        from .tasks import package_build_task

        package_build_task.delay(request_id)

    def build() -> None:
        from .packages import package_build

        package_build(request_id)

    if here:
        transaction.on_commit(build)
    else:
        _send_on_commit(send)


# --- reconciling --------------------------------------------------------------------------------


def reconcile() -> dict[str, int]:
    """Queue again what a crash or a lost message left behind; return what was done.

    Runs from beat every ``DSR_RECONCILE_SECONDS``; safe to run any time, anywhere.
    """
    now = timezone.now()
    # A message not picked up within one interval counts as lost and is sent again; claims
    # are conditional, so a duplicate message does nothing.
    stale = now - timedelta(seconds=settings.DSR_RECONCILE_SECONDS)
    exhausted = Q(attempts__gte=F("max_attempts"))
    with transaction.atomic():
        # Every attempt ended with its worker dead (a hard time limit, out of memory): running
        # it again would only kill another worker, so it fails for staff to look at.
        given_up = list(
            StoreTask.objects.select_for_update(skip_locked=True)
            .filter(exhausted)
            .filter(
                Q(state=TaskState.RUNNING, lease_expires_at__lt=now) | Q(state=TaskState.QUEUED)
            )
            .values_list("pk", flat=True)
        )
        _give_up(given_up)
        expired = list(
            StoreTask.objects.select_for_update(skip_locked=True)
            .filter(state=TaskState.RUNNING, lease_expires_at__lt=now)
            .exclude(exhausted)
            .values_list("pk", flat=True)
        )
        lost = list(
            StoreTask.objects.select_for_update(skip_locked=True)
            .exclude(exhausted)
            .filter(
                Q(state=TaskState.QUEUED, enqueued_at__lt=stale)
                | Q(state=TaskState.QUEUED, enqueued_at__isnull=True)
                | Q(
                    state=TaskState.RETRYING,
                    next_attempt_at__lt=now - timedelta(seconds=settings.DSR_RECONCILE_SECONDS),
                )
            )
            .filter(RUNNABLE)
            .values_list("pk", flat=True)
        )
        if expired:
            StoreTask.objects.filter(pk__in=expired).update(
                state=TaskState.QUEUED, lease_expires_at=None
            )
            for task in StoreTask.objects.filter(pk__in=expired).only(
                "pk", "request_id", "store_id", "action", "attempts"
            ):
                audit_record(
                    actor=None,
                    action="dsr.task.requeued",
                    target=task,
                    scope=f"dsr.datasubjectrequest:{task.request_id}",
                    before={"state": TaskState.RUNNING},
                    after={
                        "state": TaskState.QUEUED,
                        "store": task.store_id,
                        "action": task.action,
                        "attempt": task.attempts,
                    },
                    reason="lease_expired",
                )
        enqueue_on_commit(expired + lost)
    # A request whose tasks all ended but that did not move on (its advance was lost); not
    # one waiting, as it should, for a step of staff or a store's answer.
    waiting_on_a_step = StoreTask.objects.filter(request=OuterRef("pk"), state=TaskState.WAITING)
    stuck = list(
        DataSubjectRequest.objects.filter(
            state__in=(State.RUNNING, State.WAITING), updated_at__lt=stale
        )
        .exclude(tasks__state__in=(TaskState.QUEUED, TaskState.RUNNING, TaskState.RETRYING))
        .exclude(Q(state=State.WAITING) & Exists(waiting_on_a_step))
        .values_list("pk", flat=True)
    )
    # A lift whose stores all lifted it, but whose advance was lost.
    unfinished_lift = StoreTask.objects.filter(request=OuterRef("pk"), action=Action.LIFT).exclude(
        state__in=(TaskState.SUCCEEDED, TaskState.SKIPPED)
    )
    stuck += list(
        DataSubjectRequest.objects.filter(
            # The (type, state) index finds the few: restrictions, and objections and
            # withdrawals whose use the person switched on again.
            type__in=_RESTRICTING_TYPES,
            state__in=LIFTABLE_STATES,
            restriction_lift_started_at__lt=stale,
            restriction_lifted_at__isnull=True,
        )
        .exclude(Exists(unfinished_lift))
        .values_list("pk", flat=True)
    )
    for request_id in stuck:
        request_advance(request_id)
    counts = {
        "expired": len(expired),
        "lost": len(lost),
        "stuck": len(stuck),
        "given_up": len(given_up),
    }
    if any(counts.values()):
        logger.info("reconciled", extra=counts)
    return counts


def _give_up(task_ids: list[int]) -> None:
    """Fail the tasks whose attempts are used up without a result (in the caller's
    transaction, which holds their rows' locks); tell the officers and advance the requests."""
    tasks = list(StoreTask.objects.filter(pk__in=task_ids).select_related("request", "store"))
    for task in tasks:
        detail = error_detail(gettext_noop("The worker stopped during the step."))
        _fail(task, {**detail, "attempts": task.attempts}, attempt=task.attempts)
    for request_id in sorted({task.request_id for task in tasks}):
        advance_on_commit(request_id)


def tasks_done(request: DataSubjectRequest) -> tuple[int, int]:
    """Return (done, total) store tasks of a request, for progress bars: while its restriction
    is being lifted, the lift's steps; otherwise the request's own (a completed request stays
    complete once lifted). A step that failed is not done."""
    tasks = request.tasks.all()
    if request.restriction_lifting:
        tasks = tasks.filter(action=Action.LIFT)
    else:
        tasks = tasks.exclude(action=Action.LIFT)
    states = list(tasks.values_list("state", flat=True))
    done = (TaskState.SUCCEEDED, TaskState.SKIPPED)
    return sum(1 for s in states if s in done), len(states)
