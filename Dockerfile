# The portal's image: web (gunicorn), worker and beat run from it with different commands.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=privacy_portal.settings.production PORTAL_VAR_DIR=/data \
    GUNICORN_BIND=0.0.0.0:8000
WORKDIR /app

RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 portal && mkdir -p /data && chown portal /data

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# The code belongs to root: the portal's user can write only to PORTAL_VAR_DIR (/data).
COPY . .
# collectstatic and compilemessages load the settings but need no secrets and no services:
# give them throwaway values for the build only (nothing connects to these).
RUN export SECRET_KEY=build-only-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
    ALLOWED_HOSTS=build PORTAL_HASH_KEY=build-only-hash-key-not-used-at-run-time \
    PORTAL_ENCRYPTION_KEYS=$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
    DATABASE_URL=postgres://build@build.invalid/build CELERY_BROKER_URL=redis://build.invalid:6379/0 \
    EMAIL_URL=smtp://build.invalid:25 PORTAL_BASE_URL=https://build.invalid \
    && python manage.py collectstatic --noinput \
    && python manage.py compilemessages --ignore=.venv

USER portal
EXPOSE 8000
CMD ["gunicorn", "-c", "privacy_portal/gunicorn.conf.py", "privacy_portal.wsgi"]
