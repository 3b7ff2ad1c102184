"""Time reading one subject's current state on the benchmark database, and show the plan.

Run from the repository root: ``. bench/env.sh && .venv/bin/python bench/state_read.py``
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacy_portal.settings.production")

import django

django.setup()

from django.db import connection  # noqa: E402

from consent.models import ConsentEvent, ConsentState, ConsentSubject  # noqa: E402
from consent.selectors import _CUSTOMER_ROWS_SQL, consent_current  # noqa: E402


def main() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM consent_consentevent")
        print(f"ledger events: {cursor.fetchone()[0]:,}")
        cursor.execute("SELECT max(id) FROM consent_consentsubject")
        top = cursor.fetchone()[0]
    ids = random.sample(range(1, top + 1), 2000)
    subjects = list(ConsentSubject.objects.filter(pk__in=ids))
    consent_current(subjects[0])  # warm the catalogue cache
    timings = []
    for subject in subjects[:1000]:
        started = time.perf_counter()
        consent_current(subject)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p99 = timings[int(len(timings) * 0.99)]
    print(
        f"consent_current(subject), {len(timings)} random subjects: "
        f"median {statistics.median(timings):.2f} ms, p99 {p99:.2f} ms, max {timings[-1]:.2f} ms"
    )
    subject = subjects[-1]
    print(f"\nEXPLAIN ANALYZE of the current-state read (subject {subject.pk}):")
    print(ConsentState.objects.filter(subject=subject).explain(analyze=True, buffers=True))
    print(f"\nfor comparison, the subject's history from the ledger (subject {subject.pk}):")
    print(
        ConsentEvent.objects.filter(subject=subject)
        .order_by("id")
        .explain(analyze=True, buffers=True)
    )
    customer = (
        ConsentSubject.objects.filter(user__isnull=False, visitor_id__isnull=True)
        .values_list("user_id", flat=True)
        .first()
    )
    print(f"\nthe consent API's read when its answer is not cached (customer {customer}):")
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + _CUSTOMER_ROWS_SQL, [customer, customer, customer]
        )
        print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
