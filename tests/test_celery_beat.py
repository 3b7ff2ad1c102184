"""Celery beat starts from a fresh checkout, where ``PORTAL_VAR_DIR`` does not exist yet."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from privacy_portal.celery import app
from privacy_portal.celery_beat import HEARTBEAT_SUFFIX, PortalScheduler

ROOT = Path(__file__).resolve().parent.parent


def test_the_scheduler_makes_the_folder_of_its_schedule_file(tmp_path):
    schedule = tmp_path / "var" / "nested" / "celerybeat-schedule"
    scheduler = PortalScheduler(app=app, schedule_filename=str(schedule), lazy=True)
    scheduler.setup_schedule()
    try:
        assert schedule.parent.is_dir()
    finally:
        scheduler.close()


def test_beat_runs_when_the_var_folder_is_missing(tmp_path):
    var_dir = tmp_path / "fresh-checkout" / "var"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "privacy_portal.settings.test",
        "PORTAL_VAR_DIR": str(var_dir),
    }
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "privacy_portal", "beat", "--loglevel=INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The heartbeat file exists once beat has opened its schedule and gone round its loop
        # (the container's health check reads it); a beat that cannot stops first.
        deadline = time.monotonic() + 30
        opened = False
        while not opened and time.monotonic() < deadline and beat.poll() is None:
            opened = (var_dir / f"celerybeat-schedule{HEARTBEAT_SUFFIX}").exists()
            time.sleep(0.2)
        alive = beat.poll() is None
    finally:
        beat.terminate()
        output, _ = beat.communicate(timeout=30)
    assert opened and alive, output
