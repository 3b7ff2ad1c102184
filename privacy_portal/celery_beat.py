"""Celery beat's scheduler: Celery's own, keeping its schedule in a file
(``CELERY_BEAT_SCHEDULE_FILENAME``, under ``PORTAL_VAR_DIR``, or ``beat -s``), whose folder it
makes first: a fresh checkout has no ``var/`` yet, and Celery's scheduler would stop there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler


class PortalScheduler(PersistentScheduler):
    """``PersistentScheduler`` that creates the folder of its schedule file."""

    schedule_filename: str  # set by PersistentScheduler (not in Celery's type stubs)

    def _open_schedule(self) -> Any:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open_schedule()  # type: ignore[misc]
