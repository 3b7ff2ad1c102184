"""Production: refuses to start without real secrets; HTTPS everywhere."""

from django.core.exceptions import ImproperlyConfigured

from privacy_portal.crypto import NEW_KEY_COMMAND, keys_problem

from .base import *  # noqa: F403
from .base import SECRET_KEY_FALLBACKS, env

DEBUG = False
SECRET_KEY = env("SECRET_KEY", default="")


def _weak(key: str) -> bool:
    return len(key) < 50 or key.startswith("dev-only") or len(set(key)) < 5


if _weak(SECRET_KEY):
    raise ImproperlyConfigured("Set SECRET_KEY to a random value of at least 50 characters.")
# What a fallback signed is believed as if the current key had signed it.
if any(_weak(key) for key in SECRET_KEY_FALLBACKS):
    raise ImproperlyConfigured(
        "SECRET_KEY_FALLBACKS may hold only earlier values of SECRET_KEY (each random, at least "
        "50 characters), never a short or development value."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set ALLOWED_HOSTS to the portal's host names.")
PORTAL_HASH_KEY = env("PORTAL_HASH_KEY", default="")
if len(PORTAL_HASH_KEY) < 32 or PORTAL_HASH_KEY.startswith("dev-only"):
    raise ImproperlyConfigured("Set PORTAL_HASH_KEY to a random value of at least 32 characters.")
PORTAL_ENCRYPTION_KEYS = env.list("PORTAL_ENCRYPTION_KEYS", default=[])
_DEV_KEY_PREFIX = "ZGV2LW9ubHkt"  # base64 of "dev-only-": the development default
if not PORTAL_ENCRYPTION_KEYS or any(
    key.startswith(_DEV_KEY_PREFIX) for key in PORTAL_ENCRYPTION_KEYS
):
    raise ImproperlyConfigured(
        f"Set PORTAL_ENCRYPTION_KEYS to one or more Fernet keys; make one with: {NEW_KEY_COMMAND}"
    )
if _problem := keys_problem(PORTAL_ENCRYPTION_KEYS):
    raise ImproperlyConfigured(f"{_problem} Make one with: {NEW_KEY_COMMAND}")

# The services production runs on, named: a variable left out must not fall back quietly to
# the development defaults (SQLite in var/, a broker in a folder, e-mail written to files,
# links to localhost).
_unset = [
    name for name in ("DATABASE_URL", "EMAIL_URL", "PORTAL_BASE_URL") if not env(name, default="")
]
if _unset:
    raise ImproperlyConfigured(f"Set {', '.join(_unset)} (see the README's Configuration).")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    raise ImproperlyConfigured("Set DATABASE_URL to the PostgreSQL database, not SQLite.")
if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    raise ImproperlyConfigured("Set CELERY_BROKER_URL (or REDIS_URL) to the Redis broker.")

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=63072000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True
# __Host- cookies are bound to this exact host, HTTPS and path /: every cookie the portal sets.
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
LANGUAGE_COOKIE_NAME = "__Host-django_language"
# The portal's banner cookie (banner.js is told its name; on Inper's other sites the banner
# keeps its own cookie, which may span subdomains).
CONSENT_COOKIE_NAME = env("CONSENT_COOKIE_NAME", default="__Host-inper_consent")
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
