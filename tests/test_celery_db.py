"""Database connections in Celery workers: kept between tasks, closed when a task may have
left one unfit for the next (privacy_portal.celery_db)."""

from __future__ import annotations

import psutil
import pytest
from django.conf import settings
from django.db import connection, transaction

from dsr.models import DataSubjectRequest, State
from privacy_portal.celery_db import database_after_task, database_before_task
from tests.dsr.helpers import file_request
from tests.factories import AddressFactory, UserFactory
from tests.worker import WorkerProcess, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _raw() -> object:
    connection.ensure_connection()
    return connection.connection


def test_an_idle_connection_is_kept_after_a_task_that_succeeded(postgres):
    raw = _raw()
    database_before_task()
    database_after_task(state="SUCCESS")
    assert connection.connection is raw


def test_the_connection_is_closed_after_a_task_that_failed(postgres):
    _raw()
    database_after_task(state="FAILURE")
    assert connection.connection is None


def test_a_connection_left_inside_a_transaction_is_closed(postgres):
    raw = _raw()
    with raw.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("BEGIN")
        cursor.execute("SELECT 1")
    database_after_task(state="SUCCESS")
    assert connection.connection is None
    # The next use opens a new connection, outside any transaction.
    with connection.cursor() as cursor:
        cursor.execute("SELECT now() = statement_timestamp()")
        assert cursor.fetchone() == (True,)


def test_a_connection_in_an_aborted_transaction_is_closed(postgres):
    raw = _raw()
    with raw.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("BEGIN")
        with pytest.raises(Exception, match="division by zero"):
            cursor.execute("SELECT 1 / 0")
    database_after_task(state="SUCCESS")
    assert connection.connection is None


def test_a_task_run_in_the_callers_process_leaves_its_connection_alone(postgres):
    from dsr.tasks import reconcile_task

    raw = _raw()
    with transaction.atomic():
        reconcile_task.apply()  # prerun and postrun fire here, in this transaction
        assert connection.connection is raw and not raw.closed  # type: ignore[attr-defined]
        assert not connection.needs_rollback
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")


def _database_connections(worker: WorkerProcess) -> set[int]:
    """The local ports of the pool process's connections to PostgreSQL."""
    port = int(settings.DATABASES["default"].get("PORT") or 5432)
    (child,) = worker.children()
    return {
        c.laddr.port
        for c in child.net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    }


def _carried_out(worker: WorkerProcess, customer: object) -> set[int]:
    """File an access request, wait until the worker completed it, and return the ports of the
    pool process's connections to PostgreSQL once the export's helper connection is closed."""
    request = file_request(type="access", user=customer)
    wait_until(
        lambda: DataSubjectRequest.objects.filter(pk=request.pk, state=State.COMPLETED).exists(),
        message=f"{request.reference} to complete",
    )
    return wait_until(
        lambda: len(ports := _database_connections(worker)) == 1 and ports,
        message="one connection left in the pool process",
    )


@pytest.mark.worker
def test_a_worker_runs_its_tasks_on_one_database_connection(postgres, redis_cache, tmp_path):
    worker = WorkerProcess(tmp_path, concurrency=1).start()
    try:
        first, second = UserFactory(), UserFactory()
        AddressFactory(user=first)
        AddressFactory(user=second)
        seen = [_carried_out(worker, customer) for customer in (first, second)]
        assert seen[0] == seen[1]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE client_port = %s",
                [next(iter(seen[1]))],
            )
            assert cursor.fetchone() == (1,)
    finally:
        worker.stop()
