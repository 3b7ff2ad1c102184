# The two commands of the README:
#   make run    set up, load the demo data and serve the portal with a Celery worker and beat
#   make test   set up and run every check and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test install check lint typecheck security pytest browsers messages demo clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# --- make run: the portal on its embedded defaults (SQLite, filesystem broker, mail to files) ---
run: export DJANGO_SETTINGS_MODULE := privacy_portal.settings.dev
# Links in e-mails and the demo services' callbacks must reach this server, also on another PORT.
run: export PORTAL_BASE_URL ?= http://localhost:$(or $(PORT),8000)
run: install
	mkdir -p var/mail var/broker/queue var/broker/processed var/broker/control
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_requests
	@echo "Portal: http://localhost:$${PORT:-8000}/   e-mails: var/mail/   stop: Ctrl-C"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start -p $${PORT:-8000}

demo: export DJANGO_SETTINGS_MODULE := privacy_portal.settings.dev
demo: install
	mkdir -p var/mail var/broker/queue var/broker/processed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_requests

# --- make test: the machine's PostgreSQL and Redis unless DATABASE_URL / REDIS_URL say otherwise ---
TEST_ENV = DJANGO_SETTINGS_MODULE=privacy_portal.settings.test \
	DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/inper_portal}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/15}" \
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/14}"

test: install browsers check pytest

browsers:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: install Debian's chromium package for the browser tests."; fi; }

check: lint typecheck security
	DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py makemigrations --check --dry-run
	DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py check
	DJANGO_SETTINGS_MODULE=privacy_portal.settings.production \
	  SECRET_KEY=check-deploy-$$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n') \
	  ALLOWED_HOSTS=privacy.inper.example PORTAL_HASH_KEY=check-deploy-hash-key-0123456789abcdef \
	  DATABASE_URL=postgres://portal@db.invalid:5432/portal CELERY_BROKER_URL=redis://redis.invalid:6379/1 \
	  EMAIL_URL=smtp+tls://mail.invalid:587 PORTAL_BASE_URL=https://privacy.inper.example \
	  CONSENT_SMS_WEBHOOK_SECRET=check-deploy-sms-secret-0123456789abcdef \
	  PORTAL_ENCRYPTION_KEYS=$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

# bandit at medium severity and above; every runtime pin on the newest patch of its series.
security: install
	$(BIN)/bandit -q -r privacy_portal accounts consent dsr -ll -c pyproject.toml
	$(BIN)/python .ci/check_pins.py

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: install
	$(TEST_ENV) $(BIN)/mypy privacy_portal accounts consent dsr

pytest: install
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

messages: install
	$(BIN)/python manage.py makemessages -l de --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=staticfiles --ignore=test-artifacts
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf var staticfiles .pytest_cache .mypy_cache .ruff_cache
