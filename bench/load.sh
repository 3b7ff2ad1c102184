#!/usr/bin/env bash
# The load mix (see docs/benchmarks.md, "Load"): gunicorn with the production settings, 50
# concurrent users for DURATION (60 s) on home, preference centre, consent toggle, request
# list, banner save and consent API, one wrk process per endpoint so that each has its own
# figures. From the repository root:
#
#   bash bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/inper_load_bench}
. bench/env.sh
DURATION=${DURATION:-60s}
# Connections per endpoint (50 in all): the share of each in the mix.
MIX=${MIX:-"home:8 preferences:10 toggle:6 requests:8 banner:10 api:8"}
db=${DATABASE_URL##*/}
psql -h 127.0.0.1 -U postgres -lqt | cut -d'|' -f1 | grep -qw "$db" ||
  createdb -h 127.0.0.1 -U postgres "$db"
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python bench/load_setup.py
.venv/bin/gunicorn -c privacy_portal/gunicorn.conf.py privacy_portal.wsgi --daemon \
  --pid /tmp/inper-load-bench.pid
trap 'kill $(cat /tmp/inper-load-bench.pid)' EXIT
sleep 3
URL=http://127.0.0.1:8300
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "== $(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version'), redis $(redis-server --version | grep -o 'v=[0-9.]*')"
echo "== commit $(git rev-parse --short HEAD); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for item in $MIX; do  # warm-up
  ENDPOINT=${item%%:*} wrk -t1 -c2 -d3s -s bench/load.lua "$URL" >/dev/null
done
out=$(mktemp -d)
for item in $MIX; do
  ENDPOINT=${item%%:*} wrk -t1 -c"${item##*:}" -d"$DURATION" --latency -s bench/load.lua "$URL" \
    >"$out/${item%%:*}" 2>&1 &
done
wait
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| endpoint | connections | requests | requests/s | p50 | p99 | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
total=0
for item in $MIX; do
  read -r _ name count rate p50 p99 errors < <(grep '^RESULT' "$out/${item%%:*}")
  echo "| $name | ${item##*:} | $count | $rate | $p50 ms | $p99 ms | $errors |"
  total=$(python3 -c "print(round($total + $rate, 1))")
done
echo "| all | 50 | | $total | | | |"
grep -h "status" "$out"/* | sort | uniq -c || true
