#!/usr/bin/env bash
# The benchmarks served by gunicorn (see docs/benchmarks.md), one command each, from the
# repository root:
#
#   bash bench/run.sh consent   # consent read API and banner save, 50 clients (the default)
#   bash bench/run.sh load      # the load mix: six endpoints, 50 users, 60 s (bench/load.sh)
#   bash bench/run.sh access    # 100 access requests queued at once, two workers
#
# consent: gunicorn with the production settings and privacy_portal/gunicorn.conf.py, a warm-up
# (every customer read once, then 5 s), then wrk with CONNECTIONS (50) for DURATION (30 s) against the read API
# (bench/api_read.lua) and the banner save (bench/banner_save.lua), then one subject's
# current state timed in Python (bench/state_read.py). The first run creates the database and
# fills its ledger (bench/seed_ledger.py, SEED_EVENTS events: about ten minutes for 10 million).
#
# Every figure is printed with the machine, the commit and the load average before and after:
# on a shared machine, compare runs only at a similar load.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-consent}
case $what in
  load) exec bash bench/load.sh ;;
  access)
    export BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bench_portal_access}
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg) before"
    .venv/bin/python bench/dsr_bench.py throughput --kind access --requests "${REQUESTS:-100}" \
      --workers "${WORKERS:-2}"
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg) after"
    exit 0 ;;
  consent) ;;
  *) echo "usage: bash bench/run.sh [consent|load|access]" >&2; exit 2 ;;
esac

. bench/env.sh
. bench/lib.sh
DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-50}
SEED_EVENTS=${SEED_EVENTS:-10000000}
db=${DATABASE_URL##*/}
if ! psql -h 127.0.0.1 -U postgres -lqt | cut -d'|' -f1 | grep -qw "$db"; then
  createdb -h 127.0.0.1 -U postgres "$db"
  .venv/bin/python manage.py migrate --noinput -v0
  .venv/bin/python bench/seed_ledger.py --events "$SEED_EVENTS" \
    --subjects $((SEED_EVENTS / 10)) --accounts 10000
fi
export BENCH_TOKEN=$(cat "$BENCH_TMP/inper-consent-bench-token")
export BENCH_FIRST_CUSTOMER=$(psql -h 127.0.0.1 -U postgres "$db" -tAc \
  "SELECT min(id) FROM accounts_user WHERE email LIKE 'bench-%'")
.venv/bin/python manage.py collectstatic --noinput -v0
bench_machine
echo "== ledger: $(psql -h 127.0.0.1 -U postgres "$db" -tAc \
  "SELECT to_char(reltuples, 'FM999,999,999') FROM pg_class WHERE relname = 'consent_consentevent'") events"
bench_gunicorn_start
curl -sf -H "Authorization: Bearer $BENCH_TOKEN" \
  "$BENCH_URL/api/v1/consent/customers/$BENCH_FIRST_CUSTOMER/" >/dev/null
# Warm-up: every customer's answer read once (one wrk thread walks them in turn; at these rates
# each is read every few seconds, so a steady state has them all cached), then 5 s at random.
BENCH_SEQUENTIAL=1 wrk -t1 -c10 -d15s -s bench/api_read.lua "$BENCH_URL" >/dev/null
wrk -t2 -c"$CONNECTIONS" -d5s -s bench/api_read.lua "$BENCH_URL" >/dev/null
bench_wrk "consent read API: GET /api/v1/consent/customers/<id>/, $CONNECTIONS clients" \
  -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/api_read.lua "$BENCH_URL"
bench_wrk "banner save: POST /privacy/banner/choice, $CONNECTIONS clients" \
  -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/banner_save.lua "$BENCH_URL"
echo "== one subject's current state with the full ledger ($(bench_load))"
.venv/bin/python bench/state_read.py
