"""A crash between the commit and the enqueue loses nothing: the periodic reconciler (beat, on
a real worker) picks the work up within one interval."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from dsr.models import DataSubjectRequest, State, StoreTask, TaskState
from tests.dsr.helpers import file_request
from tests.factories import UserFactory
from tests.worker import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_work_committed_but_never_enqueued_is_picked_up_within_one_interval(
    celery_worker, tmp_path, monkeypatch
):
    person = UserFactory(email="crash.between@example.com")
    # The process "crashes" right after COMMIT: the on-commit enqueue never happens.
    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: None)
    request = file_request(type="access", user=person)
    monkeypatch.undo()
    assert StoreTask.objects.filter(request=request, state=TaskState.QUEUED).count() == 1
    time.sleep(2)
    assert StoreTask.objects.get(request=request).state == TaskState.QUEUED  # nothing moves

    log = (tmp_path / "beat.log").open("ab")
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "privacy_portal",
            "beat",
            "-s",
            str(tmp_path / "schedule"),
            "--loglevel=INFO",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=celery_worker.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        wait_until(
            lambda: DataSubjectRequest.objects.get(pk=request.pk).state == State.COMPLETED,
            timeout=60,
            message="the reconciler to finish the work",
        )
    finally:
        beat.send_signal(signal.SIGTERM)
        beat.wait(timeout=30)
    # One reconcile interval, plus the work itself and the package.
    assert time.monotonic() - started < settings.DSR_RECONCILE_SECONDS * 2 + 10
