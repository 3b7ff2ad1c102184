"""The request lifecycle's busiest steps, kept short without weakening what they promise: an
approval, a worker's claim of its task and every audited step are a few statements each, and
the faster PostgreSQL statements store exactly what the ORM's would.

(How fast an erasure runs end to end is measured in bench/, with the figures in
docs/benchmarks.md.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dsr import engine
from dsr.models import DataSubjectRequest, State, StoreTask, TaskState
from dsr.services import dsr_request_approve
from privacy_portal.audit import services as audit
from privacy_portal.audit.models import AuditChainHead, AuditEvent
from privacy_portal.audit.selectors import audit_chain_verify
from tests.dsr.helpers import file_request, run_pending_tasks

pytestmark = pytest.mark.django_db


def _statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements sent, without the savepoints of the test's own transaction."""
    return [
        q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def test_an_approval_inserts_its_tasks_as_sent_and_sends_them_once_it_commits(
    customer, compliance_user, django_capture_on_commit_callbacks, postgres
):
    request = file_request(type="erasure", user=customer)
    with (
        django_capture_on_commit_callbacks() as callbacks,
        CaptureQueriesContext(connection) as queries,
    ):
        request = dsr_request_approve(request=request, actor=compliance_user)
    assert request.state == State.RUNNING
    task = request.tasks.get()
    assert task.state == TaskState.QUEUED and task.enqueued_at is not None
    # One lock, two changes of state and the plan, each with its audit event (two statements:
    # the chain's head locked, then the event and the new head), the stores and the tasks.
    statements = _statements(queries)
    assert len(statements) == 11, [sql[:80] for sql in statements]
    # No second lock of the request, no update of the tasks just inserted.
    assert not any(sql.startswith('UPDATE "dsr_storetask"') for sql in statements)
    assert len(callbacks) == 1  # the message, sent after the commit
    # Sent just now: the reconciler does not count it as lost.
    assert engine.reconcile()["lost"] == 0


@pytest.mark.parametrize("claim", [engine._claim_sql, engine._claim_orm], ids=["sql", "orm"])
def test_a_task_is_claimed_once_and_again_only_when_its_lease_ran_out(
    claim, customer, compliance_user, postgres
):
    request = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=compliance_user
    )
    task = request.tasks.get()
    now = timezone.now()
    lease = now + timedelta(minutes=5)
    with CaptureQueriesContext(connection) as queries:
        assert claim(task.pk, now, lease) == 1
    if claim is engine._claim_sql:
        assert len(_statements(queries)) == 1  # the update returns the attempt
    assert claim(task.pk, now, lease) is None  # claimed, the lease still runs
    task.refresh_from_db()
    assert (task.state, task.attempts, task.lease_expires_at) == (TaskState.RUNNING, 1, lease)
    later = lease + timedelta(seconds=1)
    assert claim(task.pk, later, later + timedelta(minutes=5)) == 2  # the worker died
    DataSubjectRequest.objects.filter(pk=request.pk).update(state=State.CANCELLED)
    StoreTask.objects.filter(pk=task.pk).update(state=TaskState.QUEUED)
    assert claim(task.pk, later, later) is None  # nothing runs for a closed request


def test_an_erasure_completes_with_its_record_and_its_events_in_order(customer, compliance_user):
    request = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=compliance_user
    )
    request = run_pending_tasks(request)
    assert request.state == State.COMPLETED and request.snapshot() == {}
    actions = list(
        AuditEvent.objects.filter(seq__gt=0)
        .order_by("seq")
        .filter(action__in=("dsr.erasure.recorded", "dsr.request.state_changed"))
        .values_list("action", "after__state")
    )[-2:]
    assert actions == [("dsr.erasure.recorded", None), ("dsr.request.state_changed", "completed")]
    assert audit_chain_verify().ok


@pytest.mark.parametrize("append", [audit._append_sql, audit._append_orm], ids=["sql", "orm"])
def test_an_audited_step_stores_the_same_event_either_way(append, customer, monkeypatch, postgres):
    monkeypatch.setattr(audit, "_append", append)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        event = audit.audit_record(
            actor=customer,
            action="test.step",
            target=customer,
            before={"state": "a"},
            after={"state": "b", "n": 1},
            reason="because",
        )
    if append is audit._append_sql:
        assert len(_statements(queries)) == 2  # the head locked, then the event and the head
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.hash == audit.event_digest(stored) == event.hash
    assert (stored.seq, stored.action, stored.before, stored.after, stored.reason) == (
        event.seq,
        "test.step",
        {"state": "a"},
        {"state": "b", "n": 1},
        "because",
    )
    assert (stored.actor_type, stored.actor_id, stored.scope) == (
        "person",
        customer.pk,
        f"accounts.user:{customer.pk}",
    )
    head = AuditChainHead.objects.get()
    assert (head.seq, head.hash) == (stored.seq, stored.hash)
    assert audit_chain_verify().ok
