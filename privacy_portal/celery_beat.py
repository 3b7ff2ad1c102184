"""Celery beat's scheduler: Celery's own, keeping its schedule in a file
(``CELERY_BEAT_SCHEDULE_FILENAME``, under ``PORTAL_VAR_DIR``, or ``beat -s``), whose folder it
makes first: a fresh checkout has no ``var/`` yet, and Celery's scheduler would stop there.

Beat says that it is alive by touching ``<schedule file>.heartbeat`` on every pass of its loop
(at least every five minutes, Celery's longest wait; every minute with ``dsr-reconcile``): the
container's health check (docker-compose.yml) reads the file's age.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler

HEARTBEAT_SUFFIX = ".heartbeat"


class PortalScheduler(PersistentScheduler):
    """``PersistentScheduler`` that creates the folder of its schedule file and touches its
    heartbeat file on every tick."""

    schedule_filename: str  # set by PersistentScheduler (not in Celery's type stubs)

    def _open_schedule(self) -> Any:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open_schedule()  # type: ignore[misc]

    def tick(self, *args: Any, **kwargs: Any) -> float:
        delay: float = super().tick(*args, **kwargs)
        # A file that cannot be touched must not stop beat: the health check, reading its
        # age, reports it.
        with contextlib.suppress(OSError):
            Path(self.schedule_filename + HEARTBEAT_SUFFIX).touch()
        return delay
