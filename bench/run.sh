#!/usr/bin/env bash
# The consent benchmarks (see docs/benchmarks.md). From the repository root, after
# bench/seed_ledger.py:
#
#   bash bench/run.sh
#
# Starts gunicorn with the production settings, warms up, then runs wrk with 50 connections
# for 30 s against the consent read API and the banner save endpoint, and times reading one
# subject's current state (bench/state_read.py).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/env.sh
DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-50}
export BENCH_TOKEN=$(cat "${TMPDIR:-/tmp}/inper-consent-bench-token")
export BENCH_FIRST_CUSTOMER=$(.venv/bin/python -c "
import django; django.setup()
from accounts.models import User
print(User.objects.filter(email__startswith='bench-').order_by('pk').values_list('pk', flat=True)[0])")
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/gunicorn -c privacy_portal/gunicorn.conf.py privacy_portal.wsgi --daemon --pid /tmp/inper-consent-bench.pid
trap 'kill $(cat /tmp/inper-consent-bench.pid)' EXIT
sleep 3
URL=http://127.0.0.1:8300
curl -sf -H "Authorization: Bearer $BENCH_TOKEN" "$URL/api/v1/consent/customers/$BENCH_FIRST_CUSTOMER/" >/dev/null
echo "== machine"; nproc; grep -m1 'model name' /proc/cpuinfo; free -g | sed -n 2p
echo "== commit $(git rev-parse --short HEAD)"
echo "== warm-up"; wrk -t2 -c"$CONNECTIONS" -d5s -s bench/api_read.lua "$URL" >/dev/null
echo "== consent read API: GET /api/v1/consent/customers/<id>/"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/api_read.lua "$URL"
echo "== banner save: POST /privacy/banner/choice"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/banner_save.lua "$URL"
echo "== one subject's current state with the full ledger"
.venv/bin/python bench/state_read.py
