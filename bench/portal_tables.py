"""Requests about one customer with many rows in the portal's own tables, through a real worker.

    python bench/portal_tables.py --totals 1000000,10000000 --subject-rows 100000 [--runs 3]

For each total, the portal's consent ledger is filled (in SQL) with that many events of other
people (anonymous banner visitors, ten events each), and ``subject@example.com`` gets
``--subject-rows`` rows of their own: 90 % consent events (with their current state) and 10 %
addresses. Then, with only the portal's own store enabled and one Celery worker:

- an access request, from filing until it is completed (its encrypted package built);
- an erasure, from approval until it is completed (addresses and account deleted, the consent
  subject pseudonymised: ledger rows stay as proof);

next to the floor, measured on the same database by direct SQL: the same rows copied out with
``COPY ... TO STDOUT`` (psycopg2's ``copy_expert``, as psql's ``\\copy`` does), and the same
erasure as set-based statements in one transaction, each run next to its own floor (for the
access, the median of three copies just before it; the ratio printed is the median of the
runs' ratios). A request ends when the worker records it
completed. The worker's peak memory (RSS of the pool process) is sampled every 50 ms.

Environment as ``dsr_bench.py`` (``BENCH_DATABASE_URL``, ``BENCH_BROKER_URL``,
``BENCH_VAR_DIR``); the portal database should be one of its own (``bench_...``), since the
consent tables are emptied and refilled.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
import uuid
from typing import Any

# dsr_bench sets the portal's environment up (django.setup()) before anything of Django loads.
from dsr_bench import VAR_DIR, Worker, file, log, machine, prepare_portal, wait_done

# isort: split
from allauth.account.models import EmailAddress
from django.db import connection, transaction

from accounts.models import User
from dsr.models import DataStore, StoreTask
from dsr.portal_store import PORTAL_STORE_KEY
from dsr.services import dsr_request_approve
from privacy_portal.audit.models import AuditEvent

SUBJECT = "subject@example.com"
OTHER_CUSTOMERS = "customer-%%@bench.example.com"
# How often the benchmark asks whether a request is done. Its end is the time the worker
# recorded (the audit event), so polling slower costs the measurement nothing; polling every
# 2 ms took a tenth of this two-core machine from the work being measured.
POLL_SECONDS = 0.025
EVENT_COLUMNS = """(subject_id, purpose_id, purpose_version_id, granted, source,
    policy_version_id, language, text_hash, occurred_at, ip_truncated, user_agent_hash,
    actor_type, actor_id, note, evidence)"""
# One event of a series ``g.i`` for subject ``s.id`` and purpose ``p`` (a row of bench_purposes).
EVENT_VALUES = """s.id, p.id, p.vid, (g.i %% 3) <> 0,
    CASE WHEN g.i %% 5 = 0 THEN 'preference_centre' ELSE 'banner' END,
    NULL, 'en', md5(g.i::text) || md5(p.id::text),
    now() - make_interval(secs => g.i), '203.0.113.0', substr(md5((g.i %% 997)::text), 1, 32),
    'subject', NULL, '', '{}'"""
PURPOSE_OF_EVENT = "p.n = g.i %% (SELECT count(*) FROM bench_purposes)"
# The purposes events are about: cookie categories and marketing channels, numbered from 0.
PURPOSES = """WITH bench_purposes AS (
    SELECT row_number() OVER (ORDER BY p.id) - 1 AS n, p.id, p.current_version_id AS vid
    FROM consent_purpose p WHERE p.kind IN ('cookie', 'marketing') AND NOT p.always_on)"""


def sql(statement: str, params: list[Any] | None = None) -> None:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
    log(f"  {time.monotonic() - started:6.1f} s  {statement.split(chr(10))[0][:80]}")


def fill_ledger(total: int) -> None:
    """``total`` events of anonymous visitors, ten each, with their current state; and a
    customer with two addresses for every twenty events (a shop's address book, so that the
    subject's addresses are a few among many, as they would be)."""
    log(f"filling the ledger with {total:,} events of other people")
    sql("SET portal.allow_truncate = on")  # the ledger is append-only, also to TRUNCATE
    sql("TRUNCATE consent_consentstate, consent_consentevent, consent_consentsubject CASCADE")
    User.objects.filter(email=SUBJECT).delete()
    sql("TRUNCATE accounts_address")
    sql(f"DELETE FROM accounts_user WHERE email LIKE '{OTHER_CUSTOMERS}'")
    sql(
        """INSERT INTO accounts_user (password, is_superuser, email, first_name, last_name,
            phone, country, preferred_language, is_staff, is_active, date_joined,
            session_generation)
        SELECT '!', false, 'customer-' || g.i || '@bench.example.com', 'Customer', g.i::text,
            '', 'DE', 'en', false, true, now(), 0
        FROM generate_series(1, %s) AS g(i)""",
        [total // 20],
    )
    sql(
        f"""INSERT INTO accounts_address (user_id, label, recipient, line1, line2, postal_code,
            city, region, country, is_default_shipping, created_at, updated_at)
        SELECT u.id, 'Address ' || n, 'Customer ' || u.last_name, n || ' Bench Street', '',
            '10115', 'Berlin', '', 'DE', n = 1, now(), now()
        FROM accounts_user u CROSS JOIN generate_series(1, 2) AS n
        WHERE u.email LIKE '{OTHER_CUSTOMERS}'"""
    )
    sql("VACUUM ANALYZE accounts_user")
    sql("VACUUM ANALYZE accounts_address")
    sql(
        """INSERT INTO consent_consentsubject (visitor_id, pseudonym, created_at)
        SELECT gen_random_uuid(), '', now() FROM generate_series(1, %s)""",
        [total // 10],
    )
    sql(
        f"""{PURPOSES} INSERT INTO consent_consentevent {EVENT_COLUMNS}
        SELECT {EVENT_VALUES}
        FROM generate_series(0, %s - 1) AS g(i)
        JOIN consent_consentsubject s
            ON s.id = (SELECT min(id) FROM consent_consentsubject) + g.i / 10
        JOIN bench_purposes p ON {PURPOSE_OF_EVENT}""",
        [total],
    )
    sql(
        """INSERT INTO consent_consentstate (subject_id, purpose_id, purpose_version_id, granted,
            source, event_id, updated_at)
        SELECT DISTINCT ON (subject_id, purpose_id) subject_id, purpose_id, purpose_version_id,
            granted, source, id, occurred_at
        FROM consent_consentevent ORDER BY subject_id, purpose_id, id DESC"""
    )
    for table in ("consent_consentevent", "consent_consentstate", "consent_consentsubject"):
        sql(f"VACUUM ANALYZE {table}")
    # Measure on a quiet database, not while gigabytes of the fill are still being written out.
    sql("CHECKPOINT")
    os.sync()


def seed_subject(rows: int) -> User:
    """The subject: an account with ``rows`` rows in the portal's tables."""
    User.objects.filter(email=SUBJECT).delete()
    user = User.objects.create_user(SUBJECT, first_name="Sam", last_name="Subject")
    EmailAddress.objects.create(user=user, email=SUBJECT, verified=True, primary=True)
    events, addresses = rows * 9 // 10, rows // 10
    with transaction.atomic():
        sql(
            "INSERT INTO consent_consentsubject (user_id, pseudonym, created_at) "
            "VALUES (%s, '', now())",
            [user.pk],
        )
        sql(
            f"""{PURPOSES} INSERT INTO consent_consentevent {EVENT_COLUMNS}
            SELECT {EVENT_VALUES}
            FROM generate_series(0, %s - 1) AS g(i)
            JOIN consent_consentsubject s ON s.user_id = %s
            JOIN bench_purposes p ON {PURPOSE_OF_EVENT}""",
            [events, user.pk],
        )
        sql(
            """INSERT INTO consent_consentstate (subject_id, purpose_id, purpose_version_id,
                granted, source, event_id, updated_at)
            SELECT DISTINCT ON (e.purpose_id) e.subject_id, e.purpose_id, e.purpose_version_id,
                e.granted, e.source, e.id, e.occurred_at
            FROM consent_consentevent e JOIN consent_consentsubject s ON s.id = e.subject_id
            WHERE s.user_id = %s ORDER BY e.purpose_id, e.id DESC""",
            [user.pk],
        )
        sql(
            """INSERT INTO accounts_address (user_id, label, recipient, line1, line2,
                postal_code, city, region, country, is_default_shipping, created_at, updated_at)
            SELECT %s, 'Address ' || g.i, 'Sam Subject', g.i || ' Example Street', '',
                '10115', 'Berlin', '', 'DE', g.i = 1, now(), now()
            FROM generate_series(1, %s) AS g(i)""",
            [user.pk, addresses],
        )
    # The person's rows were written over years: autovacuum has long been over them.
    for table in ("accounts_address", "consent_consentevent", "consent_consentsubject"):
        sql(f"VACUUM ANALYZE {table}")
    return user


FLOOR_EXPORT = (
    """SELECT p.key, v.version, e.granted, e.source, e.occurred_at, e.language, e.text_hash,
        e.ip_truncated, e.note
    FROM consent_consentevent e JOIN consent_consentsubject s ON s.id = e.subject_id
    JOIN consent_purpose p ON p.id = e.purpose_id
    JOIN consent_purposeversion v ON v.id = e.purpose_version_id
    WHERE s.user_id = {user} ORDER BY e.id""",
    """SELECT p.key, c.granted, c.source, c.updated_at
    FROM consent_consentstate c JOIN consent_consentsubject s ON s.id = c.subject_id
    JOIN consent_purpose p ON p.id = c.purpose_id WHERE s.user_id = {user}""",
    """SELECT label, recipient, line1, line2, postal_code, city, region, country,
        is_default_shipping, created_at FROM accounts_address WHERE user_id = {user} ORDER BY id""",
    """SELECT email, first_name, last_name, phone, date_of_birth, country, preferred_language,
        date_joined FROM accounts_user WHERE id = {user}""",
)
FLOOR_ERASE = (
    "DELETE FROM accounts_address WHERE user_id = %(user)s",
    "DELETE FROM account_emailaddress WHERE user_id = %(user)s",
    """UPDATE consent_consentsubject SET user_id = NULL, visitor_id = NULL, email_hash = NULL,
        pseudonym = md5(id::text), pseudonymised_at = now() WHERE user_id = %(user)s""",
    "UPDATE dsr_datasubjectrequest SET user_id = NULL WHERE user_id = %(user)s",
    "DELETE FROM accounts_user WHERE id = %(user)s",
)


def floor_export(user: User) -> float:
    raw = connection.cursor().connection
    started = time.perf_counter()
    with raw.cursor() as cursor:
        for query in FLOOR_EXPORT:
            sink = io.BytesIO()
            cursor.copy_expert(f"COPY ({query.format(user=int(user.pk))}) TO STDOUT", sink)
    return time.perf_counter() - started


def floor_erase(user: User) -> float:
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in FLOOR_ERASE:
            cursor.execute(statement, {"user": user.pk})
    return time.perf_counter() - started


def portal_store_only() -> None:
    DataStore.objects.exclude(key=PORTAL_STORE_KEY).update(enabled=False)
    DataStore.objects.filter(key=PORTAL_STORE_KEY).update(enabled=True)


def portal_task(request_id: int) -> StoreTask:
    return StoreTask.objects.get(request_id=request_id, store__key=PORTAL_STORE_KEY)


def completed_at(request_id: int) -> float:
    """When the worker recorded the request completed (its audit event), on this process's
    monotonic clock."""
    completed = (
        AuditEvent.objects.filter(
            object_type="dsr.datasubjectrequest",
            object_id=str(request_id),
            after__state__in=("completed", "partially_completed"),
        )
        .values_list("occurred_at", flat=True)
        .get()
    )
    # Wall-clock times of the database rows against this process's monotonic clock.
    return completed.timestamp() - (time.time() - time.perf_counter())


def phases(request_id: int, since: float, done: float) -> dict[str, float]:
    """Where the time went, from the request's audit trail and its task's timestamps:
    until the portal store's task started, the task itself, and from its end to completion."""
    task = portal_task(request_id)
    offset = time.time() - time.perf_counter()
    return {
        "to_start_s": task.started_at.timestamp() - offset - since,
        "task_s": (task.finished_at - task.started_at).total_seconds(),
        "to_complete_s": done - (task.finished_at.timestamp() - offset),
    }


def access_run(worker: Worker) -> dict[str, float]:
    worker.reset_peaks()
    started = time.perf_counter()
    request = file("access", SUBJECT)
    wait_done(request.pk, interval=POLL_SECONDS)
    done = completed_at(request.pk)
    task = portal_task(request.pk)
    request.package.refresh_from_db()
    return {
        "access_s": done - started,
        "phases": phases(request.pk, started, done),
        "task_s": (task.finished_at - task.started_at).total_seconds(),
        "exported": sum(task.receipt.get("counts", {}).values()),
        "package_mb": request.package.size / 1e6,
        "peak_child_mb": worker.peak_child / 1e6,
    }


def erase_run(worker: Worker) -> dict[str, Any]:
    worker.reset_peaks()
    request = file("erasure", SUBJECT)
    started = time.perf_counter()
    dsr_request_approve(request=request, actor=None)
    wait_done(request.pk, interval=POLL_SECONDS)
    done = completed_at(request.pk)
    task = portal_task(request.pk)
    return {
        "erase_s": done - started,
        "phases": phases(request.pk, started, done),
        "task_s": (task.finished_at - task.started_at).total_seconds(),
        "receipt": {key: task.receipt.get(key) for key in ("deleted", "anonymised", "remaining")},
        "peak_child_mb": worker.peak_child / 1e6,
        "subject_left": User.objects.filter(email=SUBJECT).exists(),
    }


def measure(total: int, subject_rows: int, runs: int, worker: Worker) -> dict[str, Any]:
    fill_ledger(total)
    user = seed_subject(subject_rows)
    row: dict[str, Any] = {"total": total, "subject_rows": subject_rows}
    access_run(worker)  # warm-up: connections, catalogue
    floors, accesses = [], []
    for _ in range(runs):  # each run next to its own floor: the machine's speed drifts
        floors.append(statistics.median(floor_export(user) for _ in range(3)))
        accesses.append(access_run(worker))
    log(f"  access runs: {[round(a['access_s'], 3) for a in accesses]}; floor {rounded(floors)}")
    row["floor_export_s"] = statistics.median(floors)
    row["access_s"] = statistics.median(a["access_s"] for a in accesses)
    row["access_vs_floor_runs"] = [
        round(a["access_s"] / floor, 2) for a, floor in zip(accesses, floors, strict=True)
    ]
    row["access_task_s"] = statistics.median(a["task_s"] for a in accesses)
    row["access_phases"] = median_phases(accesses)
    row["exported"] = accesses[0]["exported"]
    row["package_mb"] = accesses[0]["package_mb"]
    peaks = [a["peak_child_mb"] for a in accesses]
    erasures, floors = [], []
    for _ in range(runs):
        erasures.append(erase_run(worker))
        floors.append(floor_erase(seed_subject(subject_rows)))
        seed_subject(subject_rows)
    log(f"  erasure runs: {[round(e['erase_s'], 3) for e in erasures]}; floor {rounded(floors)}")
    row["erase_s"] = statistics.median(e["erase_s"] for e in erasures)
    row["erase_task_s"] = statistics.median(e["task_s"] for e in erasures)
    row["erase_phases"] = median_phases(erasures)
    row["floor_erase_s"] = statistics.median(floors)
    row["erase_vs_floor_runs"] = [
        round(e["erase_s"] / floor, 2) for e, floor in zip(erasures, floors, strict=True)
    ]
    row["erase_receipt"] = erasures[0]["receipt"]
    row["subject_left_after_erasure"] = any(e["subject_left"] for e in erasures)
    row["peak_child_mb"] = max(*peaks, *(e["peak_child_mb"] for e in erasures))
    row["access_vs_floor"] = statistics.median(row["access_vs_floor_runs"])
    row["erase_vs_floor"] = statistics.median(row["erase_vs_floor_runs"])
    log(json.dumps(row))
    return row


def rounded(values: list[float]) -> list[float]:
    return [round(value, 3) for value in values]


def median_phases(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {
        name: round(statistics.median(run["phases"][name] for run in runs), 4)
        for name in runs[0]["phases"]
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| ledger events | subject rows | floor export | access, end to end | x floor "
        "| floor erasure | erasure, end to end | x floor | peak worker RSS |",
        "|" + " ---: |" * 9,
    ]
    for row in rows:
        lines.append(
            f"| {row['total']:,} | {row['subject_rows']:,} | {row['floor_export_s']:.3f} s "
            f"| {row['access_s']:.3f} s | {row['access_vs_floor']:.1f} "
            f"| {row['floor_erase_s']:.3f} s | {row['erase_s']:.3f} s "
            f"| {row['erase_vs_floor']:.1f} | {row['peak_child_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--totals", default="1000000,10000000")
    parser.add_argument("--subject-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    log(f"working folder: {VAR_DIR}")
    prepare_portal()
    portal_store_only()
    info = machine()
    log(json.dumps(info))
    worker = Worker(f"bench-portal-{uuid.uuid4().hex[:6]}", concurrency=1).wait_ready()
    try:
        rows = [
            measure(int(total), args.subject_rows, args.runs, worker)
            for total in args.totals.split(",")
        ]
    finally:
        worker.stop()
    log(table(rows))
    out = VAR_DIR / "portal-tables.json"
    out.write_text(json.dumps({"machine": info, "rows": rows}, indent=2, default=str))
    log(f"results: {out}")


if __name__ == "__main__":
    main()
