"""Fill the benchmark database with a ledger of realistic size, in SQL (minutes, not hours).

    . bench/env.sh && createdb -h 127.0.0.1 -U postgres inper_consent_bench
    .venv/bin/python manage.py migrate --noinput
    .venv/bin/python bench/seed_ledger.py --events 10000000 --subjects 1000000 --accounts 10000

Subjects are anonymous banner visitors, except the first ``--accounts``, which belong to
accounts (customer ids for the read benchmark). Every subject gets events on the cookie
categories and marketing channels; the current state holds each subject's latest event per
purpose, as the services keep it. Prints the API token the read benchmark uses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacy_portal.settings.production")

import django

django.setup()

from django.db import connection  # noqa: E402

from accounts.models import User  # noqa: E402
from consent.api.authentication import api_token_issue  # noqa: E402
from consent.models import ApiClient  # noqa: E402

TOKEN_FILE = Path(os.environ.get("TMPDIR", "/tmp")) / "inper-consent-bench-token"


def run(sql: str, params: list[object] | None = None) -> None:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    print(f"  {time.monotonic() - started:6.1f}s  {sql.split(chr(10))[0][:90]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()

    print("accounts", flush=True)
    existing = User.objects.filter(email__startswith="bench-").count()
    User.objects.bulk_create(
        [
            User(email=f"bench-{n}@example.com", password="!")  # unusable password
            for n in range(existing, args.accounts)
        ],
        batch_size=5000,
    )
    run("SET portal.allow_truncate = on")  # the ledger is append-only, also to TRUNCATE
    run("TRUNCATE consent_consentstate, consent_consentevent, consent_consentsubject CASCADE")
    run(
        """INSERT INTO consent_consentsubject (user_id, visitor_id, pseudonym, created_at)
        SELECT u.id, NULL, '', now() FROM accounts_user u WHERE u.email LIKE 'bench-%%'""",
    )
    run(
        """INSERT INTO consent_consentsubject (visitor_id, pseudonym, created_at)
        SELECT gen_random_uuid(), '', now() FROM generate_series(1, %s)""",
        [args.subjects - args.accounts],
    )
    run(
        """CREATE TEMP TABLE bench_purposes AS
        SELECT row_number() OVER (ORDER BY p.id) - 1 AS n, p.id, p.current_version_id AS vid
        FROM consent_purpose p
        WHERE p.kind IN ('cookie', 'marketing') AND NOT p.always_on"""
    )
    run("ANALYZE consent_consentsubject")
    run(
        """CREATE TEMP TABLE bench_subjects AS
        SELECT row_number() OVER (ORDER BY id) AS n, id FROM consent_consentsubject"""
    )
    run("CREATE INDEX ON bench_subjects (n)")
    # Events in time order, each for a random subject and purpose.
    run(
        """INSERT INTO consent_consentevent (subject_id, purpose_id, purpose_version_id, granted,
            source, policy_version_id, language, text_hash, occurred_at, ip_truncated,
            user_agent_hash, actor_type, actor_id, note, evidence)
        SELECT s.id, p.id, p.vid, (g.i %% 3) <> 0,
            CASE WHEN g.i %% 5 = 0 THEN 'preference_centre' ELSE 'banner' END,
            (SELECT id FROM consent_policyversion WHERE document = 'cookie_policy' AND version = 1),
            'en', md5(g.i::text) || md5(p.id::text),
            now() - make_interval(secs => (%s - g.i) * 3),
            '203.0.113.0', substr(md5((g.i %% 997)::text), 1, 32), 'subject', NULL, '', '{}'
        FROM generate_series(1, %s) AS g(i)
        JOIN bench_subjects s ON s.n = 1 + (hashint4(g.i) & 2147483647) %% %s
        JOIN bench_purposes p
            ON p.n = (hashint4(g.i + 7) & 2147483647) %% (SELECT count(*) FROM bench_purposes)""",
        [args.events, args.events, args.subjects],
    )
    run(
        """INSERT INTO consent_consentstate (subject_id, purpose_id, purpose_version_id, granted,
            source, event_id, updated_at)
        SELECT DISTINCT ON (subject_id, purpose_id) subject_id, purpose_id, purpose_version_id,
            granted, source, id, occurred_at
        FROM consent_consentevent ORDER BY subject_id, purpose_id, id DESC"""
    )
    run("VACUUM ANALYZE consent_consentevent")
    run("VACUUM ANALYZE consent_consentstate")
    run("VACUUM ANALYZE consent_consentsubject")
    client, _ = ApiClient.objects.get_or_create(
        name="benchmark", defaults={"scopes": ["consent:read", "consent:write"]}
    )
    _row, token = api_token_issue(client=client)
    TOKEN_FILE.write_text(token)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM consent_consentevent")
        events = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM consent_consentstate")
        states = cursor.fetchone()[0]
    print(f"ledger events: {events:,}; current-state rows: {states:,}; token in {TOKEN_FILE}")


if __name__ == "__main__":
    main()
