"""Demo requests for the dashboard: a year of requests from made-up people, carried through the
real services (so that each has its audit trail and receipts), then dated back so that the
queue, the deadlines and the metrics have something to show. For development only."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from privacy_portal.permissions import COMPLIANCE_GROUP
from privacy_portal.pseudonymise import email_hash

from .. import callbacks, deadlines, engine, packages
from ..models import (
    Action,
    Channel,
    DataSubjectRequest,
    ExportPackage,
    IdentityMethod,
    RejectionReason,
    RequestType,
    State,
    TaskState,
)
from ..services import (
    Intake,
    TransitionError,
    dsr_request_approve,
    dsr_request_file,
    dsr_request_reject,
    dsr_task_complete_manual,
)

_NAMES = (
    "Mia Wagner", "Noah Evans", "Lena Fischer", "Omar Haddad", "Sofia Rossi", "Jonas Weber",
    "Priya Nair", "Lucas Moreau", "Emma Brown", "Kenji Sato", "Nora Jensen", "Leo Novak",
)  # fmt: skip
_TYPES = (
    (RequestType.ACCESS, 5),
    (RequestType.ERASURE, 4),
    (RequestType.RECTIFICATION, 1),
    (RequestType.RESTRICTION, 1),
    (RequestType.PORTABILITY, 1),
)
_CHANNELS = (Channel.EMAIL, Channel.PHONE, Channel.IN_PERSON, Channel.POST)


#: Requests older than this had their manual steps done by staff long ago; younger ones may
#: still wait for them (the "Manual steps" page and the dashboard show some).
_STEPS_DONE_AFTER = timedelta(days=14)


#: How long to wait, each time, before asking a service again for a deferred answer: at most
#: three times, so that the task keeps attempts left (``DSR_TASK_MAX_ATTEMPTS``).
_ASK_AGAIN_AFTER = (0.05, 0.6, 1.2)


def _run(request: DataSubjectRequest, officer: Any, *, steps_done: bool) -> None:
    """Carry an approved request's store tasks out in this process, as a worker would, and
    if ``steps_done`` its manual steps as staff would (through the same service)."""
    waits = iter(_ASK_AGAIN_AFTER)
    for _ in range(3 + len(_ASK_AGAIN_AFTER)):
        for task_id in request.tasks.filter(state=TaskState.QUEUED).values_list("pk", flat=True):
            engine.task_run(task_id)
        if steps_done and officer is not None:
            for step in request.tasks.filter(state=TaskState.WAITING, waiting_for="manual"):
                copy = step.action == Action.EXPORT
                dsr_task_complete_manual(
                    task=step,
                    actor=officer,
                    note="Searched the other system's console: nothing held for this person."
                    if copy
                    else "Done in the other system's console.",
                    receipt={"nothing_held": True} if copy else None,
                )
        deferred = request.tasks.filter(state=TaskState.WAITING, waiting_for="callback")
        wait = next(waits, None) if deferred.exists() else None
        if wait is not None:
            # The service's callback cannot reach a portal that is not serving yet: ask again
            # with the same key, as beat does once a callback is overdue.
            time.sleep(wait)
            later = timezone.now() + timedelta(seconds=settings.DSR_CALLBACK_TIMEOUT_SECONDS + 1)
            callbacks.callbacks_overdue(now=later, request_id=request.pk)
            continue
        engine.request_advance(request.pk)
        # As the last worker would: a copy is built once no step waits any more.
        if (
            not request.tasks.filter(state=TaskState.WAITING).exists()
            and ExportPackage.objects.filter(request=request, built_at__isnull=True).exists()
        ):
            packages.package_build(request.pk)


def seed_demo_requests(*, count: int = 80, seed: int = 2026) -> int:
    """Create up to ``count`` demo requests (skipping those that exist); return how many."""
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
    officer: Any = User.objects.filter(groups__name=COMPLIANCE_GROUP, is_active=True).first()
    now = timezone.now()
    kinds = [kind for kind, weight in _TYPES for _ in range(weight)]
    with engine.tasks_run_in_process(), _demo_services_up():
        return _seed(rng, officer, now, kinds, count)


@contextmanager
def _demo_services_up() -> Iterator[None]:
    """Serve the demo newsletter platform and group CRM in this process while the requests
    are made (``make run`` starts them only afterwards), unless something answers at their
    address already; without them their stores' tasks would wait to be retried, and the
    requests would complete only later, dated today."""
    from ..demo import services, services_path, services_secrets

    with ExitStack() as stack:
        if services_path().exists():
            address = urlsplit(settings.DSR_DEMO_SERVICES_URL)
            with suppress(OSError):  # served already (by `make run`, or another copy)
                stack.enter_context(
                    services.serving(
                        services_path(),
                        services_secrets(),
                        host=address.hostname or "127.0.0.1",
                        port=address.port or 8010,
                        erase_delay=0,
                    )
                )
        yield


def _seed(rng: random.Random, officer: Any, now: Any, kinds: list[Any], count: int) -> int:
    created = 0
    for index in range(count):
        email = f"demo.requester{index:03d}@example.net"
        # The first few are still open: two overdue, the others due within a month.
        if index < 2:
            age = timedelta(days=rng.uniform(33, 40))
        elif index < 10:
            age = timedelta(days=rng.uniform(3, 28))
        else:
            age = timedelta(days=rng.uniform(0.5, 390))
        kind = rng.choice(kinds)
        fate = rng.random()
        country = rng.choice(("DE", "DE", "FR", "GB", "US", "NL"))
        if DataSubjectRequest.objects.filter(subject_key=email_hash(email)).exists():
            continue
        with transaction.atomic():
            request = dsr_request_file(
                intake=Intake(
                    type=kind,
                    email=email,
                    channel=rng.choice(_CHANNELS),
                    full_name=rng.choice(_NAMES),
                    country=country,
                    details="Please correct my postal address." if kind == "rectification" else "",
                    identity_method=IdentityMethod.STAFF_CALLBACK,
                    identity_note="Called back the phone number on the customer record.",
                ),
                actor=officer,
            )
        try:
            if index < 2 or (index < 10 and fate < 0.6):
                pass  # still waiting for an officer
            elif fate < 0.12:
                dsr_request_reject(
                    request=request,
                    actor=officer,
                    reason=rng.choice(
                        (RejectionReason.IDENTITY, RejectionReason.MANIFESTLY_UNFOUNDED)
                    ),
                )
            else:
                request.refresh_from_db()
                if request.state == State.IN_REVIEW:
                    dsr_request_approve(request=request, actor=officer)
        except TransitionError:
            pass  # approved when filed (no review needed): nothing to decide
        request.refresh_from_db()
        if request.state == State.RUNNING:
            _run(request, officer, steps_done=age > _STEPS_DONE_AFTER)
            request.refresh_from_db()
        received = now - age
        updates: dict[str, Any] = {
            "received_at": received,
            "due_at": deadlines.due_at(request.regime, received),
        }
        if request.acknowledged_at:
            updates["acknowledged_at"] = received
        if request.approved_at:
            updates["approved_at"] = received + timedelta(hours=rng.uniform(1, 30))
        if request.completed_at:
            took = timedelta(days=min(rng.lognormvariate(2.2, 0.6), 80))
            updates["completed_at"] = min(received + max(took, timedelta(days=1.5)), now)
        DataSubjectRequest.objects.filter(pk=request.pk).update(**updates)
        created += 1
    return created
