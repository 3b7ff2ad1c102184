"""A real Celery worker process for tests of asynchronous paths.

The worker runs ``celery -A privacy_portal worker`` against the test database and the test
broker, on queues of its own, so that nothing else consumes the test's messages. E-mails it
sends are written to files that :meth:`WorkerProcess.outbox` reads back.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def wait_until(
    predicate: Callable[[], Any],
    *,
    timeout: float = 30,
    interval: float = 0.1,
    message: str = "condition",
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def until_done_by_staff(
    request: Any, do_steps: Callable[[], Any], *, timeout: float = 60, rounds: int = 3
) -> None:
    """Do staff's steps of ``request`` (``do_steps``) as the worker brings them until it is
    completed: an erasure's steps for its recipients come once the systems' own are done."""
    from dsr.models import DataSubjectRequest, State, TaskState

    def staff_turn_or_done() -> bool:
        found = DataSubjectRequest.objects.get(pk=request.pk)
        if found.state == State.COMPLETED:
            return True
        waiting = found.tasks.filter(state=TaskState.WAITING)
        return (
            found.state == State.WAITING
            and not waiting.filter(waiting_for="callback").exists()
            and waiting.filter(waiting_for="manual").exists()
        )

    for _ in range(rounds):
        wait_until(staff_turn_or_done, timeout=timeout, message="staff's steps or the end")
        if DataSubjectRequest.objects.get(pk=request.pk).state == State.COMPLETED:
            return
        do_steps()
    raise AssertionError(f"{request.reference} still not completed after {rounds} rounds")


def database_url() -> str:
    """Return a URL of the test database the test process is connected to."""
    params = connection.settings_dict
    engine = params["ENGINE"].rsplit(".", 1)[-1]
    if engine == "sqlite3":
        return f"sqlite:///{params['NAME']}"
    auth = params["USER"] or ""
    if params.get("PASSWORD"):
        auth += f":{params['PASSWORD']}"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{params['NAME']}"


class WorkerProcess:
    """One Celery worker process (with its pool children), started and stopped by a test."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        concurrency: int = 2,
        pool: str = "prefork",
        extra_env: dict[str, str] | None = None,
        queues: tuple[str, str] | None = None,
    ) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.queue, self.exports_queue = queues or (
            f"test-portal-{suffix}",
            f"test-exports-{suffix}",
        )
        self.name = f"test-{suffix}@%h"
        self.mail_dir = tmp_path / "worker-mail"
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = tmp_path / "worker.log"
        self.concurrency = concurrency
        self.pool = pool
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "privacy_portal.settings.test",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_DEFAULT_QUEUE": self.queue,
            "CELERY_EXPORTS_QUEUE": self.exports_queue,
            "TEST_EMAIL_FILE_PATH": str(self.mail_dir),
            "PORTAL_VAR_DIR": str(settings.VAR_DIR),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        env.update(self.extra_env)
        return env

    def successor(self, tmp_path: Path) -> WorkerProcess:
        """Return a worker (not started) for the same queues, to replace this one."""
        return WorkerProcess(
            tmp_path,
            concurrency=self.concurrency,
            pool=self.pool,
            extra_env=self.extra_env,
            queues=(self.queue, self.exports_queue),
        )

    def route_here(self) -> None:
        """Send this test process's tasks to this worker's queues."""
        from privacy_portal.celery import app

        app.conf.task_default_queue = self.queue
        app.conf.task_routes = {
            name: {**route, "queue": self.exports_queue}
            for name, route in settings.CELERY_TASK_ROUTES.items()
        }
        routes_reload(app)

    def start(self, *, timeout: float = 60) -> WorkerProcess:
        self.route_here()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "privacy_portal",
                "worker",
                "-Q",
                f"{self.queue},{self.exports_queue}",
                "-n",
                self.name,
                "--pool",
                self.pool,
                "--concurrency",
                str(self.concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: b"ready." in self.log_path.read_bytes() or self._died(),
            timeout=timeout,
            message="the Celery worker to start",
        )
        if self._died():
            raise AssertionError(f"the worker exited:\n{self.log()}")
        return self

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self) -> list[psutil.Process]:
        """Return the pool's child processes."""
        assert self.process is not None
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the main worker process and its children at once (as a crash would)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the worker gracefully (warm shutdown), killing it if it does not stop."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def outbox(self) -> list[EmailMessage]:
        """Return the e-mails the worker sent, oldest first."""
        messages: list[EmailMessage] = []
        for path in sorted(self.mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime):
            for raw in path.read_text().split("-" * 79 + "\n"):
                if raw.strip():
                    message = email.message_from_string(raw, policy=email.policy.default)
                    messages.append(message)  # type: ignore[arg-type]
        return messages


def routes_reload(app: Any) -> None:
    """Make Celery route by the configuration as it is now (its router keeps the routes it
    read first)."""
    app.amqp.flush_routes()
    app.amqp.router = app.amqp.Router()
