"""Benchmarks of data-subject requests against external stores, through real Celery workers.

    python bench/dsr_bench.py single     --total 10000000 --subject-rows 100000 [--runs 3]
    python bench/dsr_bench.py scale      --totals 1000000,3000000,10000000 --subject-rows 100000
    python bench/dsr_bench.py throughput --requests 1000 --workers 2 [--kind access]

``single`` and ``scale`` load the reference shop (``shop-load.sh``) into PostgreSQL, register it
with the SQL connector (``shop-store.json``: the floor's columns, anonymised), and time, end to
end through a real worker, an access request (until its package is built) and an erasure
(from approval until the request is completed), next to the floor (``floor.sh``: ``\\copy`` and
set-based UPDATEs in psql) and the worker's peak memory. ``throughput`` queues small erasure
(or, with ``--kind access``, access) requests across every store of the demo world and times
two workers through them, staff steps included.

Environment (defaults in brackets): ``BENCH_DATABASE_URL``
[postgres://postgres@127.0.0.1:5432/bench_portal], ``BENCH_BROKER_URL``
[redis://127.0.0.1:6379/13], ``PGHOST``, ``PGUSER``, ``PGPASSWORD`` for the shop
[127.0.0.1, postgres], ``BENCH_VAR_DIR`` [a temporary folder]. Every database it creates has a
``bench_`` prefix; ``--drop`` drops the shops afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_portal"
)
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
VAR_DIR = Path(os.environ.get("BENCH_VAR_DIR") or tempfile.mkdtemp(prefix="bench-var-"))
VAR_DIR.mkdir(parents=True, exist_ok=True)
SUBJECT = "subject@example.com"


def portal_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "privacy_portal.settings.dev",
        "DEBUG": "false",
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "REDIS_URL": BROKER_URL,
        "CACHE_KEY_PREFIX": "bench",
        "PORTAL_VAR_DIR": str(VAR_DIR),
        "LOG_LEVEL": "WARNING",
        "DSR_RETRY_BASE_SECONDS": "1",
    }
    env.update(extra)
    return env


os.environ.update(portal_env())

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from dsr.demo import shop  # noqa: E402
from dsr.models import DataStore, DataSubjectRequest, State, StoreTask  # noqa: E402
from dsr.services import Intake, dsr_request_approve, dsr_request_file  # noqa: E402


def log(message: str) -> None:
    print(message, flush=True)


# --- processes ----------------------------------------------------------------------------------


class Worker:
    """A Celery worker process, with a thread sampling the memory of it and its children."""

    def __init__(self, name: str, concurrency: int = 1, **env: str) -> None:
        self.name = name
        self.log = (VAR_DIR / f"{name}.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "privacy_portal",
                "worker",
                "-Q",
                "portal,exports",
                "-n",
                f"{name}@%h",
                "-c",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=portal_env(**env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.peak_child = 0
        self.peak_total = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def wait_ready(self, seconds: float = 4) -> Worker:
        time.sleep(seconds)
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            try:
                main = psutil.Process(self.process.pid)
                children = main.children(recursive=True)
                sizes = [child.memory_info().rss for child in children]
                total = main.memory_info().rss + sum(sizes)
            except psutil.Error:
                continue
            self.peak_child = max(self.peak_child, *sizes, 0)
            self.peak_total = max(self.peak_total, total)

    def reset_peaks(self) -> None:
        self.peak_child = self.peak_total = 0

    def stop(self) -> None:
        self._stop.set()
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)


def shell(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        list(args),
        cwd=BENCH,
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def floor(mode: str, shopdb: str, repeat: int = 3) -> dict[str, float]:
    out = shell("bash", "floor.sh", mode, env={"SHOPDB": shopdb, "REPEAT": str(repeat)})
    values = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key in ("floor_export_s", "floor_erase_s"):
            values[key] = float(value)
    return values


def load(total: int, subject_rows: int, shopdb: str) -> str:
    log(f"loading {shopdb}: {total:,} browsing events, {subject_rows:,} subject rows")
    return shell("bash", "shop-load.sh", str(total), str(subject_rows), env={"SHOPDB": shopdb})


# --- the portal side ------------------------------------------------------------------------------


def prepare_portal() -> None:
    """Create and migrate the bench portal database."""
    url = sa.make_url(DATABASE_URL.replace("postgres://", "postgresql+psycopg2://", 1))
    shop.ensure_database(url)
    call_command("migrate", verbosity=0)
    close_open_requests()


def shop_url(shopdb: str) -> sa.URL:
    return sa.URL.create(
        "postgresql+psycopg2",
        username=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD") or None,
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=5432,
        database=shopdb,
    )


def register_bench_shop(shopdb: str) -> DataStore:
    """Register the reference shop as the only enabled store."""
    config = json.loads((BENCH / "shop-store.json").read_text())
    url = shop_url(shopdb)
    config["url"] = f"postgresql://{url.username}@{url.host}:{url.port}/{shopdb}"
    DataStore.objects.update(enabled=False)
    store, _ = DataStore.objects.update_or_create(
        key="bench-shop",
        defaults={
            "name": "Reference shop",
            "owner": "bench",
            "connector": "dsr.connectors.sql.SQLConnector",
            "config": config,
            "enabled": True,
        },
    )
    store.set_secrets(
        {"password": os.environ["PGPASSWORD"]} if os.environ.get("PGPASSWORD") else {}
    )
    store.save()
    return store


def file(kind: str, email: str = SUBJECT) -> DataSubjectRequest:
    request = dsr_request_file(
        intake=Intake(
            type=kind,
            email=email,
            channel="email",
            identity_method="staff_document",
            identity_note="benchmark subject, identity taken as checked",
        ),
        actor=None,
    )
    if request.state == State.DUPLICATE:
        raise RuntimeError(
            f"{email} already has an open {kind} request ({request.duplicate_of}): "
            "finish it, or start from a fresh BENCH_DATABASE_URL"
        )
    return request


def close_open_requests() -> None:
    """Cancel what an interrupted earlier run left open, so that new requests are not
    duplicates."""
    from django.utils import timezone

    open_states = (State.RUNNING, State.WAITING, State.IN_REVIEW, State.APPROVED, State.VERIFIED)
    DataSubjectRequest.objects.filter(state__in=open_states).update(
        state=State.CANCELLED, completed_at=timezone.now(), outcome="cancelled"
    )


def wait_done(request_id: int, timeout: float = 1800, interval: float = 0.002) -> float:
    """Wait until the request is completed; return when this process saw it (every
    ``interval`` seconds it asks the database, which costs the machine some CPU)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = DataSubjectRequest.objects.values_list("state", flat=True).get(pk=request_id)
        if state in (State.COMPLETED, State.PARTIALLY_COMPLETED):
            connection.close()
            return time.perf_counter()
        time.sleep(interval)
    raise RuntimeError(f"request {request_id} did not finish")


def task_seconds(request_id: int) -> float:
    task = StoreTask.objects.get(request_id=request_id, store__key="bench-shop")
    return (task.finished_at - task.started_at).total_seconds()


def access_run(worker: Worker) -> dict[str, float]:
    worker.reset_peaks()
    started = time.perf_counter()
    request = file("access")
    done = wait_done(request.pk)
    package = request.package
    package.refresh_from_db()
    request.refresh_from_db()
    task = StoreTask.objects.get(request_id=request.pk, store__key="bench-shop")
    phases = (
        task.started_at - request.received_at,
        task.finished_at - task.started_at,
        package.built_at - task.finished_at,
        request.completed_at - package.built_at,
    )
    log(
        "    queued→started {:.3f} s, export task {:.3f} s, →package built {:.3f} s,"
        " →completed {:.3f} s".format(*(phase.total_seconds() for phase in phases))
    )
    result = {
        "access_s": done - started,
        "export_task_s": task_seconds(request.pk),
        "package_mb": package.size / 1e6,
        "peak_child_mb": worker.peak_child / 1e6,
        "peak_total_mb": worker.peak_total / 1e6,
    }
    shutil.rmtree(VAR_DIR / "dsr" / "packages", ignore_errors=True)
    return result


def erase_run(worker: Worker) -> dict[str, Any]:
    worker.reset_peaks()
    request = file("erasure")
    started = time.perf_counter()
    dsr_request_approve(request=request, actor=None)
    done = wait_done(request.pk)
    task = StoreTask.objects.get(request_id=request.pk, store__key="bench-shop")
    return {
        "erase_s": done - started,
        "erase_task_s": task_seconds(request.pk),
        "anonymised": sum(task.receipt.get("anonymised", {}).values()),
        "remaining": sum(task.receipt.get("remaining", {}).values()),
        "peak_child_mb": worker.peak_child / 1e6,
    }


def timed_runs(
    run: Callable[[Worker], dict[str, Any]], worker: Worker, runs: int
) -> list[dict[str, Any]]:
    """Run ``run`` once to warm up (connections, catalogue), then ``runs`` times."""
    run(worker)
    results = [run(worker) for _ in range(runs)]
    log(f"  access runs: {[round(result['access_s'], 3) for result in results]}")
    return results


def measure(total: int, subject_rows: int, runs: int, worker: Worker, drop: bool) -> dict[str, Any]:
    shopdb = f"bench_shop_{total}"
    load(total, subject_rows, shopdb)
    register_bench_shop(shopdb)
    row: dict[str, Any] = {"total": total, "subject_rows": subject_rows}
    row["floor_export_s"] = floor("export", shopdb, repeat=3)["floor_export_s"]
    accesses = timed_runs(access_run, worker, runs)
    row["access_s"] = statistics.median(a["access_s"] for a in accesses)
    row["export_task_s"] = statistics.median(a["export_task_s"] for a in accesses)
    row["package_mb"] = accesses[0]["package_mb"]
    row["peak_child_mb"] = max(a["peak_child_mb"] for a in accesses)
    erasures, floors = [], []
    for index in range(runs):
        if index:
            load(total, subject_rows, shopdb)
        erasures.append(erase_run(worker))
        load(total, subject_rows, shopdb)
        floors.append(floor("erase", shopdb)["floor_erase_s"])
    log(f"  erasure runs: {[round(e['erase_s'], 3) for e in erasures]}; floor {floors}")
    row["erase_s"] = statistics.median(e["erase_s"] for e in erasures)
    row["erase_task_s"] = statistics.median(e["erase_task_s"] for e in erasures)
    row["floor_erase_s"] = statistics.median(floors)
    row["anonymised"] = erasures[0]["anonymised"]
    row["remaining"] = erasures[0]["remaining"]
    row["peak_child_mb"] = max(row["peak_child_mb"], *(e["peak_child_mb"] for e in erasures))
    row["access_vs_floor"] = row["access_s"] / row["floor_export_s"]
    row["erase_vs_floor"] = row["erase_s"] / row["floor_erase_s"]
    if drop:
        shop.drop_database(shop_url(shopdb))
    log(json.dumps(row))
    return row


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return {
        "commit": commit,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "postgresql": pg,
        "load_average_at_start": os.getloadavg(),
    }


def table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| browsing events | floor export | access, end to end | export task | x floor "
        "| floor erasure | erasure, end to end | erase task | x floor | peak worker RSS |"
    )
    lines = [header, "|" + " ---: |" * 10]
    for row in rows:
        lines.append(
            f"| {row['total']:,} | {row['floor_export_s']:.3f} s | {row['access_s']:.3f} s "
            f"| {row['export_task_s']:.3f} s | {row['access_vs_floor']:.1f} "
            f"| {row['floor_erase_s']:.3f} s | {row['erase_s']:.3f} s "
            f"| {row['erase_task_s']:.3f} s | {row['erase_vs_floor']:.1f} "
            f"| {row['peak_child_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def run_single(args: argparse.Namespace, totals: list[int]) -> None:
    prepare_portal()
    info = machine()
    log(json.dumps(info))
    worker = Worker(f"bench-{uuid.uuid4().hex[:6]}", concurrency=1).wait_ready()
    try:
        rows = [measure(total, args.subject_rows, args.runs, worker, args.drop) for total in totals]
    finally:
        worker.stop()
    log(table(rows))
    out = VAR_DIR / "results.json"
    out.write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    log(f"results: {out}")


# --- throughput across the demo world -------------------------------------------------------------


def run_throughput(args: argparse.Namespace) -> None:
    import socket

    from accounts.demo import seed_demo_people
    from dsr.demo import seed_demo_world, services_path, services_secrets  # noqa: F401
    from dsr.stores import manual_step_complete

    prepare_portal()
    info = machine()
    log(json.dumps(info))

    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    web_port, services_port = free_port(), free_port()
    extra = {
        "DSR_DEMO_SERVICES_URL": f"http://127.0.0.1:{services_port}",
        "DSR_CALLBACK_BASE_URL": f"http://127.0.0.1:{web_port}",
        "PORTAL_BASE_URL": f"http://127.0.0.1:{web_port}",
    }
    os.environ.update(extra)
    from django.conf import settings

    settings.DSR_DEMO_SERVICES_URL = extra["DSR_DEMO_SERVICES_URL"]
    seed_demo_people()
    seed_demo_world(log)
    DataStore.objects.update(enabled=True)
    DataStore.objects.filter(key="bench-shop").update(enabled=False)
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "demo_services", "--port", str(services_port)],
            cwd=ROOT,
            env=portal_env(DEBUG="true", **extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-b",
                f"127.0.0.1:{web_port}",
                "-w",
                "2",
                "privacy_portal.wsgi",
            ],
            cwd=ROOT,
            env=portal_env(**extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
    ]
    time.sleep(3)
    stores = list(DataStore.objects.filter(enabled=True).values_list("key", flat=True))
    log(f"stores: {stores}")
    emails = [f"customer{n}@example.net" for n in range(1, args.requests + 1)]
    queued_at = time.perf_counter()
    requests = []
    for email in emails:
        request = file(args.kind, email)
        if request.state == State.IN_REVIEW:
            request = dsr_request_approve(request=request, actor=None)
        requests.append(request.pk)
    queued = time.perf_counter() - queued_at
    tasks = StoreTask.objects.filter(request_id__in=requests).count()
    log(
        f"queued {len(requests)} {args.kind} requests ({tasks} store tasks) in {queued:.1f} s;"
        f" starting {args.workers} workers"
    )
    workers = [
        Worker(f"tp{n}-{uuid.uuid4().hex[:4]}", concurrency=1, **extra) for n in range(args.workers)
    ]
    automatic_tasks = StoreTask.objects.filter(request_id__in=requests).exclude(
        store__connector="dsr.connectors.manual.ManualConnector"
    )
    try:
        while automatic_tasks.exclude(state__in=("succeeded", "failed", "skipped")).exists():
            time.sleep(0.5)
        first = automatic_tasks.order_by("started_at").values_list("started_at", flat=True)[0]
        last = automatic_tasks.order_by("-finished_at").values_list("finished_at", flat=True)[0]
        automatic = (last - first).total_seconds()
        log(f"automatic work done in {automatic:.1f} s; completing the staff steps")
        officer = _officer()
        manual = StoreTask.objects.filter(
            request_id__in=requests, waiting_for="manual", state="waiting"
        ).select_related("store", "request")
        while manual.exists():
            for task in manual[:500]:
                manual_step_complete(
                    task=task, actor=officer, note="Done for the benchmark.", nothing_held=True
                )
        while (
            DataSubjectRequest.objects.filter(pk__in=requests)
            .exclude(state__in=(State.COMPLETED, State.PARTIALLY_COMPLETED))
            .exists()
        ):
            time.sleep(0.5)
        ended = DataSubjectRequest.objects.filter(pk__in=requests).order_by("-completed_at")[0]
        total = (ended.completed_at - first).total_seconds()
    finally:
        for worker in workers:
            worker.stop()
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
    states = dict(
        DataSubjectRequest.objects.filter(pk__in=requests)
        .values_list("state")
        .annotate(n=django.db.models.Count("pk"))
    )
    task_states = dict(
        StoreTask.objects.filter(request_id__in=requests)
        .values_list("state")
        .annotate(n=django.db.models.Count("pk"))
    )
    from dsr.models import ErasureRecord

    references = DataSubjectRequest.objects.filter(pk__in=requests).values_list(
        "reference", flat=True
    )
    result = {
        "kind": args.kind,
        "requests": len(requests),
        "stores": len(stores),
        "tasks": tasks,
        "automatic_s": automatic,
        "requests_per_minute_automatic": len(requests) / automatic * 60,
        "with_staff_steps_s": total,
        "request_states": states,
        "task_states": task_states,
        "erasure_records": ErasureRecord.objects.filter(reference__in=references).count(),
        "peak_child_mb": max(worker.peak_child for worker in workers) / 1e6,
    }
    log(json.dumps({"machine": info, **result}, indent=2))
    (VAR_DIR / "throughput.json").write_text(json.dumps({"machine": info, **result}, indent=2))


def _officer() -> Any:
    from accounts.models import User

    return User.objects.get(email="compliance@inper.example")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    single = commands.add_parser("single")
    single.add_argument("--total", type=int, default=10_000_000)
    single.add_argument("--subject-rows", type=int, default=100_000)
    single.add_argument("--runs", type=int, default=3)
    single.add_argument("--drop", action="store_true")
    scale = commands.add_parser("scale")
    scale.add_argument("--totals", default="1000000,3000000,10000000")
    scale.add_argument("--subject-rows", type=int, default=100_000)
    scale.add_argument("--runs", type=int, default=3)
    scale.add_argument("--drop", action="store_true")
    throughput = commands.add_parser("throughput")
    throughput.add_argument("--requests", type=int, default=1000)
    throughput.add_argument("--workers", type=int, default=2)
    throughput.add_argument("--kind", choices=("erasure", "access"), default="erasure")
    args = parser.parse_args()
    log(f"working folder: {VAR_DIR}")
    if args.command == "single":
        run_single(args, [args.total])
    elif args.command == "scale":
        run_single(args, [int(total) for total in args.totals.split(",")])
    else:
        run_throughput(args)


if __name__ == "__main__":
    main()
