"""Benchmark of the compliance dashboard with 100,000 requests (results in docs/benchmarks.md).

Run by hand against a PostgreSQL database of its own (it is emptied and filled):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inper_bench_dashboard \
    DJANGO_SETTINGS_MODULE=privacy_portal.settings.test .venv/bin/python bench/dashboard_queue.py

It creates the database if needed, migrates it, bulk-loads ``N`` requests (one store task each,
2% of them failed) spread over three years, then times the dashboard's pages through Django's
test client (median of 5) and prints PostgreSQL's plans of the queue's queries.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacy_portal.settings.test")

import warnings

import django

warnings.filterwarnings("ignore", message="No directory at")

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

N = int(os.environ.get("BENCH_REQUESTS", "100000"))


def load() -> None:
    from dsr.models import OPEN_STATES, DataStore, DataSubjectRequest, State, StoreTask

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SET portal.allow_truncate = on")  # erasure records are append-only
        cursor.execute("TRUNCATE dsr_storetask, dsr_requestnote, dsr_exportpackage CASCADE")
        cursor.execute("TRUNCATE dsr_datasubjectrequest CASCADE")
    rng = random.Random(1)
    now = timezone.now()
    store = DataStore.objects.get(key="portal")
    states = [s.value for s in State if s != State.DUPLICATE]
    weights = [2 if s in OPEN_STATES else 30 for s in states]
    batch = []
    for i in range(N):
        received = now - timedelta(days=rng.uniform(0, 3 * 365))
        state = rng.choices(states, weights)[0]
        done = state not in OPEN_STATES
        batch.append(
            DataSubjectRequest(
                reference=f"DSR-{received.year}-{i + 1:06d}",
                type=rng.choice(["access", "erasure", "rectification", "restriction"]),
                state=state,
                regime=rng.choice(["gdpr", "gdpr", "uk_gdpr", "ccpa"]),
                channel=rng.choice(["portal", "portal_guest", "email", "phone"]),
                email=f"person{i}@example.com",
                subject_key=f"{i:064x}",
                received_at=received,
                due_at=received + timedelta(days=30),
                completed_at=received + timedelta(days=rng.uniform(1, 40)) if done else None,
            )
        )
        if len(batch) == 5000:
            DataSubjectRequest.objects.bulk_create(batch)
            batch = []
    DataSubjectRequest.objects.bulk_create(batch)
    tasks = []
    for pk in DataSubjectRequest.objects.values_list("pk", flat=True).iterator(chunk_size=5000):
        tasks.append(
            StoreTask(
                request_id=pk, store=store, action="export",
                state="failed" if rng.random() < 0.02 else "succeeded", attempts=1,
            )
        )  # fmt: skip
        if len(tasks) == 5000:
            StoreTask.objects.bulk_create(tasks)
            tasks = []
    StoreTask.objects.bulk_create(tasks)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def officer_client() -> Client:
    from allauth.mfa.totp.internal.auth import TOTP
    from django.contrib.auth.models import Group

    from accounts.models import User

    user, _ = User.objects.get_or_create(
        email="bench.officer@inper.example", defaults={"is_staff": True}
    )
    user.groups.add(Group.objects.get(name="Compliance officer"))
    if not user.authenticator_set.exists():
        TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time()},
        {"method": "mfa", "at": time.time(), "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def timed(client: Client, path: str) -> tuple[float, int]:
    runs = []
    queries = 0
    for _ in range(5):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(path)
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
            runs.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code)
        queries = len(captured)
    return statistics.median(runs) * 1000, queries


def main() -> None:
    if "--no-load" not in sys.argv:
        started = time.perf_counter()
        load()
        print(f"loaded {N} requests in {time.perf_counter() - started:.1f} s")
    client = officer_client()
    print("| page | median ms | queries |\n| --- | ---: | ---: |")
    for path in (
        "/dashboard/",
        "/dashboard/?status=all&sort=-received",
        "/dashboard/?status=all&sort=-received&page=1000",
        "/dashboard/?due=overdue",
        "/dashboard/?due=7d",
        "/dashboard/?failed=on&status=all",
        "/dashboard/?status=all&channel=phone&type=erasure",
        "/dashboard/?status=all&q=DSR-2025-050000",
        f"/dashboard/?status=all&person={50000:064x}",
        "/dashboard/metrics/",
        "/dashboard/metrics/yearly/",
        "/dashboard/metrics/volume.csv?months=36",
    ):
        ms, queries = timed(client, path)
        print(f"| `{path}` | {ms:.0f} | {queries} |")
    from dsr.dashboard import selectors

    for label, filters in (
        ("open, by due date", {}),
        ("overdue", {"due": "overdue"}),
        ("failed tasks", {"failed": True, "status": "all"}),
        ("all, newest first", {"status": "all", "sort": "-received"}),
        ("one person", {"status": "all", "person": f"{50000:064x}"}),
    ):
        queryset = selectors.queue(filters, me=None)[:50]
        print(f"\n#### {label}\n\n```\n{queryset.explain(analyze=True)}\n```")


if __name__ == "__main__":
    main()
