"""Database connections in Celery workers: kept between tasks as Django keeps them between
requests, and closed whenever a task may have left one unfit for the next.

Celery's Django fix-up closes every connection before and after each task, so every task
opens a new PostgreSQL connection (a new server process, its catalogue caches cold: the first
statement on each table is slower) and pays for it again and again. It does so because Django's
own test, ``close_if_unusable_or_obsolete``, cannot see a connection a task left in the middle
of a command, for example when a time limit interrupted a ``COPY``
(https://code.djangoproject.com/ticket/30646).

Here the fix-up only recycles every ``CELERY_DB_REUSE_MAX`` tasks, and these handlers decide
at each task's edges, as Django's request signals do:

- before a task, connections older than ``CONN_MAX_AGE`` are closed, and the health check of
  the others is armed (``CONN_HEALTH_CHECKS``: a connection the server dropped is replaced at
  its first use);
- after a task, a connection is kept only if the task succeeded and PostgreSQL's own protocol
  state says the connection is idle outside any transaction. Anything else (a failure, an
  exception, an open or aborted transaction, a command still in progress, another database
  engine) closes it, as Celery would have.
"""

from __future__ import annotations

from typing import Any

from celery import states
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections, connections


def _fit_for_reuse(connection: Any) -> bool:
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    if connection.connection is None or connection.connection.closed:
        return False
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE  # type: ignore[import-untyped]

    return bool(connection.connection.info.transaction_status == TRANSACTION_STATUS_IDLE)


def _eager(task: Any) -> bool:
    """A task run in its caller's process (``apply()``) shares the caller's connections and
    transaction: they are the caller's to manage, as Celery's fix-up also leaves them."""
    return bool(getattr(getattr(task, "request", None), "is_eager", False))


@task_prerun.connect(weak=False, dispatch_uid="privacy_portal.database_before_task")
def database_before_task(task: Any = None, **_: Any) -> None:
    if not _eager(task):
        close_old_connections()


@task_postrun.connect(weak=False, dispatch_uid="privacy_portal.database_after_task")
def database_after_task(task: Any = None, state: str | None = None, **_: Any) -> None:
    if _eager(task):
        return
    for connection in connections.all(initialized_only=True):
        if state != states.SUCCESS or not _fit_for_reuse(connection):
            connection.close()
    close_old_connections()
