#!/usr/bin/env bash
# sqlmap (Debian's package: apt-get install -y sqlmap) against the portal served by gunicorn on
# loopback with the test settings and a database of its own: the guest's and the customer's
# request intake, the dashboard's search, filters, sort keys and page numbers, the audit
# filters and their export, the admin's searches and filters, and every API operation.
# Run by hand (CI does not need sqlmap); the outcome is recorded in docs/security.md.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/inper_hostile \
#   REDIS_URL=redis://127.0.0.1:6379/11 CELERY_BROKER_URL=redis://127.0.0.1:6379/10 \
#   bash tests/security/sqlmap.sh
#
# It migrates that database and loads the demo data, signs in a customer, a compliance officer
# and a support agent (tests/security/sqlmap_sessions.py), serves the portal on 127.0.0.1:PORT
# (8790), runs sqlmap on each target (level 2: also the cookies and the User-Agent; risk 1;
# boolean, error, union, stacked and time-based techniques) and prints sqlmap's conclusion for
# each. Logs per target go to OUT (/tmp/sqlmap-out).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DATABASE_URL:?}" "${REDIS_URL:?}" "${CELERY_BROKER_URL:?}"
PORT=${PORT:-8790}
OUT=${OUT:-/tmp/sqlmap-out}
PY=${PYTHON:-.venv/bin/python}
export DJANGO_SETTINGS_MODULE=privacy_portal.settings.test
export PORTAL_VAR_DIR=${PORTAL_VAR_DIR:-$OUT/var}
# The rate limits would answer 429 long before sqlmap is done (they are tested on their own).
export DSR_INTAKE_RATE=1000000/h CONSENT_RATE_BANNER=1000000/m
mkdir -p "$OUT" "$PORTAL_VAR_DIR"

"$PY" manage.py migrate --noinput >"$OUT/setup.log"
"$PY" manage.py seed_demo >>"$OUT/setup.log"
eval "$("$PY" tests/security/sqlmap_sessions.py)"

"$PY" -m gunicorn -b "127.0.0.1:$PORT" -w 2 --log-level warning privacy_portal.wsgi \
  >"$OUT/gunicorn.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 1; done

BASE="http://127.0.0.1:$PORT"
ANON="$CSRF_COOKIE=$CSRF"
common=(--batch --level=2 --risk=1 --technique=BEUST --threads=4 --flush-session
  --disable-coloring --output-dir="$OUT/sessions")
run() {
  local name=$1
  shift
  sqlmap "${common[@]}" "$@" >"$OUT/$name.log" 2>&1 || true
  local verdict
  verdict=$(grep -E "is vulnerable|might be injectable|appears to be .*injectable|all tested parameters do not appear to be injectable|CRITICAL" \
    "$OUT/$name.log" | sed 's/^\[[0-9:]*\] //' | sort -u | tr '\n' ' ')
  printf '%-22s %s\n' "$name" "${verdict:-no conclusion (see $OUT/$name.log)}"
}

run intake-guest -u "$BASE/requests/new/" --cookie "$ANON" \
  --data "csrfmiddlewaretoken=$CSRF&type=rectification&email=a@example.com&full_name=A&country=DE&details=x"
run intake-customer -u "$BASE/requests/new/" --cookie "$SESSION_COOKIE=$CUSTOMER; $ANON" \
  --data "csrfmiddlewaretoken=$CSRF&type=objection&purposes=marketing_email&details=x"
run dashboard-queue --cookie "$SESSION_COOKIE=$OFFICER" \
  -u "$BASE/dashboard/?q=DSR&status=open&type=access&regime=gdpr&channel=portal&due=overdue&assignee=me&failed=on&sort=due&page=1"
run dashboard-person --cookie "$SESSION_COOKIE=$OFFICER" \
  -u "$BASE/dashboard/?status=all&person=0000000000000000000000000000000000000000000000000000000000000000"
run dashboard-search -u "$BASE/dashboard/search/" --cookie "$SESSION_COOKIE=$OFFICER; $ANON" \
  --data "csrfmiddlewaretoken=$CSRF&term=anna.schmidt@example.com"
run dashboard-audit --cookie "$SESSION_COOKIE=$OFFICER" \
  -u "$BASE/dashboard/audit/?action=dsr&reference=DSR-2026-000001&object_type=dsr.datasubjectrequest&object_id=1&actor_type=person&actor_id=1&since=2026-01-01&until=2026-12-31&before=1000"
run dashboard-audit-csv --cookie "$SESSION_COOKIE=$OFFICER" \
  -u "$BASE/dashboard/audit/export.csv?action=dsr&reference=DSR-2026-000001&object_id=1&actor_id=1"
run dashboard-yearly --cookie "$SESSION_COOKIE=$OFFICER" -u "$BASE/dashboard/metrics/yearly/?year=2026"
run admin-customers --cookie "$SESSION_COOKIE=$SUPPORT" \
  -u "$BASE/admin/accounts/user/?q=anna&is_active__exact=1&o=1&p=0"
run admin-requests --cookie "$SESSION_COOKIE=$SUPPORT" \
  -u "$BASE/admin/dsr/datasubjectrequest/?q=DSR-2026-000001&state__exact=received&type__exact=access&o=1"
run admin-opt-outs --cookie "$SESSION_COOKIE=$SUPPORT" \
  -u "$BASE/admin/consent/consentstate/?q=1&granted__exact=0&source__exact=staff"
run api-request-file -u "$BASE/api/v1/requests/" -H "Authorization: Bearer $TOKEN" \
  --data '{"type": "access", "email": "a@example.com", "full_name": "A", "details": "x", "order_number": "INP-100001"}'
run api-request-read -u "$BASE/api/v1/requests/$REFERENCE*/" -H "Authorization: Bearer $TOKEN"
run api-lookup -u "$BASE/api/v1/consent/lookup/" -H "Authorization: Bearer $TOKEN" \
  --data '{"email": "anna.schmidt@example.com"}'
run api-customer -u "$BASE/api/v1/consent/customers/$CUSTOMER_ID*/" -H "Authorization: Bearer $TOKEN"
run api-changes -u "$BASE/api/v1/consent/changes/?cursor=0&limit=10" -H "Authorization: Bearer $TOKEN"
run api-event -u "$BASE/api/v1/consent/events/" -H "Authorization: Bearer $TOKEN" \
  --data '{"email": "anna.schmidt@example.com", "purpose": "surveys", "granted": false, "note": "x"}'
