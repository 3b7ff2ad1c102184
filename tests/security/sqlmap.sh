#!/usr/bin/env bash
# sqlmap (Debian's package) against the request intake, the dashboard's search and filters, the
# admin's search and the API, on a portal served on loopback. Run by hand; the result is in
# docs/security.md. Needs: BASE (the portal, e.g. http://127.0.0.1:8765), COOKIE (a compliance
# officer's session cookie, name=value), TOKEN (an API token with every scope), OUT (a folder).
set -uo pipefail
: "${BASE:?}" "${COOKIE:?}" "${TOKEN:?}" "${OUT:=/tmp/sqlmap-out}"
common=(--batch --level=2 --risk=1 --technique=BEUST --flush-session
  --output-dir="$OUT" --disable-coloring)
run() {
  local name=$1; shift
  echo "== $name"
  local threads=(--threads=4)
  [[ " $* " == *" --csrf-token="* ]] && threads=()  # sqlmap refreshes the token in one thread
  sqlmap "${common[@]}" "${threads[@]}" "$@" 2>&1 | tee "$OUT/$name.log" |
    grep -E "is vulnerable|injectable|all tested parameters|might be injectable|CRITICAL|WARNING.*(not|does not)" | sort -u
}
mkdir -p "$OUT"
run intake-guest -u "$BASE/requests/new/" \
  --data "type=access&email=a@example.com&full_name=A&order_number=A-1001&details=x" \
  --csrf-token=csrfmiddlewaretoken --csrf-url="$BASE/requests/new/"
run dashboard-queue --cookie "$COOKIE" \
  -u "$BASE/dashboard/?q=x&status=open&type=access&regime=gdpr&channel=portal&due=overdue&sort=due&page=1"
run dashboard-audit --cookie "$COOKIE" -u "$BASE/dashboard/audit/?action=x&object_id=1&page=1"
run admin-search --cookie "$COOKIE" -u "$BASE/admin/accounts/user/?q=x"
run api-request-file -u "$BASE/api/v1/requests/" -H "Authorization: Bearer $TOKEN" \
  --data '{"type": "access", "email": "a@example.com", "order_number": "A-1001"}'
# A client reads only the requests it filed: file one first.
reference=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"type": "access", "email": "sqlmap.subject@example.com"}' "$BASE/api/v1/requests/" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["reference"])')
run api-request-read -u "$BASE/api/v1/requests/$reference*/" -H "Authorization: Bearer $TOKEN"
run api-lookup -u "$BASE/api/v1/consent/lookup/" -H "Authorization: Bearer $TOKEN" \
  --data '{"email": "a@example.com"}'
run api-customer -u "$BASE/api/v1/consent/customers/1*/" -H "Authorization: Bearer $TOKEN"
run api-changes -u "$BASE/api/v1/consent/changes/?cursor=0&limit=10" -H "Authorization: Bearer $TOKEN"
run api-event -u "$BASE/api/v1/consent/events/" -H "Authorization: Bearer $TOKEN" \
  --data '{"email": "a@example.com", "purpose": "analytics", "granted": false}'
