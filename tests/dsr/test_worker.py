"""Requests carried out by a real Celery worker process, including workers that die."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from accounts.models import Address, User
from dsr import engine
from dsr.models import DataSubjectRequest, State, StoreTask, TaskState
from dsr.services import dsr_request_approve, dsr_task_retry
from privacy_portal.audit.selectors import audit_chain_verify
from tests.dsr.helpers import add_store, all_text, file_request, manifest, open_package
from tests.factories import AddressFactory, UserFactory
from tests.worker import WorkerProcess, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _state(request: DataSubjectRequest) -> str:
    request.refresh_from_db()
    return request.state


def _wait_for(
    request: DataSubjectRequest, *states: str, timeout: float = 60, reconcile: bool = False
) -> DataSubjectRequest:
    def done() -> bool:
        if reconcile:
            engine.reconcile()
        return _state(request) in states

    wait_until(
        done,
        timeout=timeout,
        interval=0.3,
        message=f"{request.reference} to become one of {states}",
    )
    return request


def test_an_access_request_is_carried_out_by_the_worker(celery_worker):
    alice = UserFactory(email="alice.worker@example.com")
    AddressFactory(user=alice, line1="5 Worker Way")
    UserFactory(email="bystander@example.com")

    request = file_request(type="access", user=alice)

    _wait_for(request, State.COMPLETED)
    text = all_text(open_package(request))
    assert "5 Worker Way" in text and "bystander@example.com" not in text
    # The completion e-mail goes out right after the commit.
    wait_until(
        lambda: any(
            message["To"] == alice.email and request.reference in message["Subject"]
            for message in celery_worker.outbox()
        ),
        message="the completion e-mail",
    )


def _kill_when_running(worker: WorkerProcess, task: StoreTask) -> None:
    wait_until(
        lambda: cache.get(f"slow-started-{task.store.key}"),
        timeout=60,
        message="the slow store to start",
    )
    worker.kill()


@pytest.mark.parametrize("kind", ["access", "erasure"])
def test_a_worker_killed_mid_task_loses_nothing_and_repeats_nothing(
    celery_worker, tmp_path, compliance_user, kind
):
    alice = UserFactory(email="alice.killed@example.com")
    AddressFactory(user=alice)
    add_store("slow", "tests.dsr.connectors.SlowConnector", config={"seconds": 4})

    request = file_request(type=kind, user=alice)
    if kind == "erasure":
        dsr_request_approve(request=request, actor=compliance_user)
    slow = StoreTask.objects.get(request=request, store__key="slow")

    _kill_when_running(celery_worker, slow)
    slow.refresh_from_db()
    assert slow.state == TaskState.RUNNING  # the worker died holding it
    replacement = celery_worker.successor(tmp_path / "second").start()
    try:
        _wait_for(request, State.COMPLETED, timeout=90, reconcile=True)
    finally:
        replacement.stop()

    effect = "exports" if kind == "access" else "erasures"
    assert cache.get(f"slow-{effect}-slow") == 1  # applied exactly once
    slow.refresh_from_db()
    assert slow.state == TaskState.SUCCEEDED and slow.attempts == 2
    if kind == "access":
        paths = [entry["path"] for entry in manifest(open_package(request))["files"]]
        assert paths.count("stores/slow/slow_things.json") == 1
        assert "stores/portal/account.json" in paths
    else:
        assert not User.objects.filter(pk=alice.pk).exists()
        assert not Address.objects.filter(user_id=alice.pk).exists()
    assert audit_chain_verify().ok


def test_a_failed_store_is_retried_by_staff_and_the_request_completes(
    celery_worker, compliance_user
):
    alice = UserFactory(email="alice.retry@example.com")
    add_store(
        "flaky", "tests.dsr.connectors.FlakyConnector", config={"fail_times": 1, "permanent": True}
    )

    request = file_request(type="access", user=alice)
    # Held for the officer: not answered in part while the step may be retried.
    _wait_for(request, State.WAITING)
    flaky = StoreTask.objects.get(request=request, store__key="flaky")
    assert flaky.state == TaskState.FAILED and flaky.error == "the test store refuses"
    assert DataSubjectRequest.objects.get(pk=request.pk).completed_at is None

    dsr_task_retry(task=flaky, actor=compliance_user)
    _wait_for(request, State.COMPLETED)
    assert "stores/flaky/things.json" in open_package(request).namelist()
