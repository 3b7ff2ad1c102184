"""Helpers for request tests: filing requests, running the engine in-process, opening packages."""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

from dsr import engine, packages
from dsr.models import DataStore, DataSubjectRequest, ExportPackage, State, StoreTask, TaskState
from dsr.services import Intake, dsr_request_file
from privacy_portal import crypto


def file_request(
    *,
    type: str,
    user: Any = None,
    email: str = "",
    channel: str = "portal",
    actor: Any = None,
    **extra: Any,
) -> DataSubjectRequest:
    intake = Intake(type=type, email=email or user.email, channel=channel, user=user, **extra)
    return dsr_request_file(intake=intake, actor=actor if actor is not None else user)


def run_pending_tasks(request: DataSubjectRequest, *, rounds: int = 5) -> DataSubjectRequest:
    """Run the request's store tasks and package build in this process, as a worker would."""
    for _ in range(rounds):
        ids = list(
            request.tasks.filter(state__in=(TaskState.QUEUED, TaskState.RETRYING)).values_list(
                "pk", flat=True
            )
        )
        for task_id in ids:
            StoreTask.objects.filter(pk=task_id, state=TaskState.RETRYING).update(
                state=TaskState.QUEUED
            )
            engine.task_run(task_id)
        engine.request_advance(request.pk)
        package = ExportPackage.objects.filter(request=request, built_at__isnull=True).first()
        running = DataSubjectRequest.objects.filter(pk=request.pk, state=State.RUNNING).exists()
        if (
            package is not None
            # As the engine: not while a failed step holds the request for an officer.
            and running
            and not request.tasks.exclude(
                state__in=(TaskState.SUCCEEDED, TaskState.FAILED, TaskState.SKIPPED)
            ).exists()
        ):
            packages.package_build(request.pk)
        request.refresh_from_db()
        # Advancing may plan more (recipients are told once the rest is done).
        planned = request.tasks.filter(state=TaskState.QUEUED).exists()
        if not ids and not planned:
            break
    return request


def answer_without_failed(request: DataSubjectRequest) -> DataSubjectRequest:
    """An officer answers the person without the steps that failed for good; the rest runs as
    a worker would run it."""
    from dsr.services import dsr_request_answer_without_failed

    assert request.state == State.WAITING, request.state
    dsr_request_answer_without_failed(request=request, actor=None)
    return run_pending_tasks(request)


def open_package(request: DataSubjectRequest) -> zipfile.ZipFile:
    package = ExportPackage.objects.get(request=request)
    data = b"".join(packages.package_chunks(package))
    return zipfile.ZipFile(io.BytesIO(data))


def all_text(archive: zipfile.ZipFile) -> str:
    return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


def manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(archive.read("manifest.json"))
    return data


def add_store(key: str, connector: str, **fields: Any) -> DataStore:
    defaults = {"name": key.title(), "owner": "Tests", "connector": connector, "position": 50}
    defaults.update(fields)
    return DataStore.objects.create(key=key, **defaults)


def read_part_file(path: Path, key: bytes) -> bytes:
    """Return the plain bytes of a file of an export task's part (encrypted, deflated)."""
    with path.open("rb") as raw:
        return zlib.decompress(b"".join(crypto.decrypt_stream(raw, key)), -15)
