"""Where one erasure's time goes: every statement of an erasure of the benchmark's subject,
approved and run in this process (no worker, no queue), timed with the Python time between them.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_portal_tables \\
      python bench/trace_erasure.py [--runs 3] [--statements]

Uses the database ``portal_tables.py`` filled (run that first); each run seeds the subject
again (100,000 rows) and prints the approval's and the task's milliseconds and statement
counts, with the floor (the same rows erased by direct SQL) beside them. ``--statements``
prints the last run's statements: the Python time before each ("gap"), its own time and its
first 120 characters.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

# dsr_bench sets the portal's environment up (django.setup()) before anything of Django loads.
from dsr_bench import file
from portal_tables import SUBJECT, floor_erase, portal_store_only, seed_subject

# isort: split
from django.db import connection

from dsr import engine
from dsr.models import StoreTask
from dsr.services import dsr_request_approve


class Trace:
    """Records (phase, start, duration, SQL) of every statement sent."""

    def __init__(self) -> None:
        self.phase = ""
        self.statements: list[tuple[str, float, float, str]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((self.phase, started, time.perf_counter() - started, sql))

    def summary(self, phase: str) -> str:
        mine = [s for s in self.statements if s[0] == phase]
        in_sql = sum(duration for _, _, duration, _ in mine) * 1000
        return f"{len(mine)} statements, {in_sql:.1f} ms in PostgreSQL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--statements", action="store_true")
    args = parser.parse_args()
    portal_store_only()
    trace = Trace()
    for run in range(args.runs):
        seed_subject(100_000)
        request = file("erasure", SUBJECT)
        trace.statements.clear()
        with connection.execute_wrapper(trace):
            trace.phase = "approval"
            started = time.perf_counter()
            dsr_request_approve(request=request, actor=None)
            approved = time.perf_counter()
            task = StoreTask.objects.get(request_id=request.pk)
            trace.phase = "task"
            task_started = time.perf_counter()
            engine.task_run(task.pk)
            finished = time.perf_counter()
        floor = floor_erase(seed_subject(100_000))
        print(
            f"run {run + 1}: approval {1000 * (approved - started):.1f} ms "
            f"({trace.summary('approval')}); task to completion "
            f"{1000 * (finished - task_started):.1f} ms ({trace.summary('task')}); "
            f"floor {1000 * floor:.1f} ms"
        )
    if args.statements:
        previous = None
        for phase, started, duration, sql in trace.statements:
            gap = 1000 * (started - previous) if previous is not None else 0.0
            print(f"{phase:8} gap {gap:6.2f} ms  {1000 * duration:6.2f} ms  {sql[:120]}")
            previous = started + duration


if __name__ == "__main__":
    main()
