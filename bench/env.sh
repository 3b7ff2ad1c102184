# Environment of the consent benchmarks: production settings on plain HTTP, a database and
# Redis databases of their own. Source it: . bench/env.sh
export DJANGO_SETTINGS_MODULE=privacy_portal.settings.production
export SECRET_KEY=bench-only-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP
export ALLOWED_HOSTS=127.0.0.1,localhost
export PORTAL_HASH_KEY=bench-only-hash-key-0123456789abcdef
export PORTAL_ENCRYPTION_KEYS=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(b"bench-only-fernet-key-32-bytes!!").decode())')
export SECURE_SSL_REDIRECT=false
export PORTAL_BASE_URL=http://127.0.0.1:8300
export EMAIL_URL=filemail://
export DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/inper_consent_bench}
export REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/13}
export CELERY_BROKER_URL=${BENCH_BROKER_URL:-redis://127.0.0.1:6379/12}
export LOG_LEVEL=WARNING
# The banner save limit is per client address; the load generator is one address.
export CONSENT_RATE_BANNER=10000000/m
export GUNICORN_BIND=${GUNICORN_BIND:-127.0.0.1:8300}
# Lines are still formatted (as in production), only not kept.
export GUNICORN_ACCESSLOG=${GUNICORN_ACCESSLOG:-/dev/null}
BENCH_TMP=${TMPDIR:-/tmp}
