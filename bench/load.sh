#!/usr/bin/env bash
# The load mix (see docs/benchmarks.md, "Load"): gunicorn with the production settings, 50
# concurrent users for DURATION (60 s) on the home page, the preference centre and the request
# list as signed-in customers, the consent toggle (POST with CSRF), the banner save and the
# consent API read, one wrk process per endpoint so that each has its own figures. From the
# repository root:
#
#   bash bench/run.sh load      (or bash bench/load.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/inper_load_bench}
. bench/env.sh
. bench/lib.sh
DURATION=${DURATION:-60s}
# Connections per endpoint (50 in all): the share of each in the mix.
MIX=${MIX:-"home:8 preferences:10 toggle:6 requests:8 banner:10 api:8"}
db=${DATABASE_URL##*/}
psql -h 127.0.0.1 -U postgres -lqt | cut -d'|' -f1 | grep -qw "$db" ||
  createdb -h 127.0.0.1 -U postgres "$db"
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python bench/load_setup.py
bench_machine
bench_gunicorn_start
for item in $MIX; do  # warm-up
  ENDPOINT=${item%%:*} wrk -t1 -c2 -d3s -s bench/load.lua "$BENCH_URL" >/dev/null
done
echo "== $(bench_load) before"
before=$(python3 bench/server_cpu.py "$(cat "$BENCH_PID_FILE")" "$db")
out=$(mktemp -d)
for item in $MIX; do
  ENDPOINT=${item%%:*} wrk -t1 -c"${item##*:}" -d"$DURATION" --latency -s bench/load.lua \
    "$BENCH_URL" >"$out/${item%%:*}" 2>&1 &
done
wait
after=$(python3 bench/server_cpu.py "$(cat "$BENCH_PID_FILE")" "$db")
echo "== $(bench_load) after"
echo "| endpoint | users | requests | requests/s | p50 | p99 | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
total=0
count=0
errors=0
for item in $MIX; do
  read -r _ name requests rate p50 p99 failed < <(grep '^RESULT' "$out/${item%%:*}")
  echo "| $name | ${item##*:} | $requests | $rate | $p50 ms | $p99 ms | $failed |"
  total=$(python3 -c "print(round($total + $rate, 1))")
  count=$((count + requests))
  errors=$((errors + failed))
done
echo "| all | 50 | $count | $total | | | $errors |"
python3 bench/server_cpu.py per-request "$before" "$after" "$count"
# Unexpected statuses, as load.lua reports them (the first three per endpoint).
grep -h "status" "$out"/* | sort | uniq -c || true
