# Shared by the gunicorn benchmarks (run.sh, load.sh): source it after bench/env.sh.

# The machine, the services and the commit, printed beside every figure.
bench_machine() {
  echo "== machine: $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)," \
    "$(free -g | awk '/Mem/ {print $2}') GB;" \
    "$(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version' | cut -d' ' -f1 | sed 's/^/PostgreSQL /')," \
    "Redis $(redis-cli -h 127.0.0.1 INFO server | awk -F: '/^redis_version/ {print $2}' | tr -d '\r')," \
    "Python $(.venv/bin/python -c 'import platform; print(platform.python_version())')"
  echo "== commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!var' || echo ' (with local changes)')"
}

bench_load() {
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Start gunicorn with the portal's configuration in the background; stopped on exit.
bench_gunicorn_start() {
  BENCH_PID_FILE="$BENCH_TMP/inper-bench-gunicorn.$$.pid"
  .venv/bin/gunicorn -c privacy_portal/gunicorn.conf.py privacy_portal.wsgi --daemon \
    --pid "$BENCH_PID_FILE"
  trap 'kill $(cat "$BENCH_PID_FILE") 2>/dev/null || true' EXIT
  BENCH_URL="http://$GUNICORN_BIND"
  for _ in $(seq 50); do
    curl -s -o /dev/null "$BENCH_URL/healthz" && break
    sleep 0.2
  done
  echo "== gunicorn: $(.venv/bin/python -c "
import runpy; c = runpy.run_path('privacy_portal/gunicorn.conf.py')
print(f\"{c['workers']} workers x {c['threads']} threads ({c['worker_class']}), preload {c['preload_app']}\")")"
}

# bench_wrk NAME WRK_ARGS...: run wrk, print requests/s, p50, p99, errors, the server's CPU per
# request (bench/server_cpu.py) and the load average before and after.
bench_wrk() {
  local name=$1 database=${DATABASE_URL##*/} before after out
  shift
  echo "== $name ($(bench_load) before)"
  before=$(python3 bench/server_cpu.py "$(cat "$BENCH_PID_FILE")" "$database")
  out=$(wrk "$@")
  after=$(python3 bench/server_cpu.py "$(cat "$BENCH_PID_FILE")" "$database")
  echo "$out" | grep -E "Requests/sec|requests in|Latency  |50%|90%|99%|Non-2xx|Socket errors" | sed 's/^/   /'
  echo "   $(python3 bench/server_cpu.py per-request "$before" "$after" \
    "$(echo "$out" | awk '/requests in/ {print $1}')")"
  echo "   $(bench_load) after"
}
