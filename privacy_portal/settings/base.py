"""Settings shared by every environment, all read from the environment.

Defaults are safe for a developer's machine: SQLite under ``var/``, a Celery broker on the
filesystem, emails written to ``var/mail/``. Production overrides what must never default.
"""

from __future__ import annotations

from pathlib import Path

import django_stubs_ext
import environ
from django.utils.translation import gettext_lazy as _

# Lets generic Django classes (ModelForm[User], QuerySet[...]) be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

# Everything the portal writes at run time lives under one folder (or configured storage).
VAR_DIR = Path(env("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env("SECRET_KEY", default="dev-only-not-secret-3k2j5h6g7f8d9s0a1q2w3e4r5t6y7u8i")
# Earlier values of SECRET_KEY, still accepted for what they signed (sessions, the links in
# e-mails) while a new one takes over: see the README's "Rotating the keys".
SECRET_KEY_FALLBACKS: list[str] = env.list("SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Public base URL used in emails and in links sent to other systems.
PORTAL_BASE_URL: str = env("PORTAL_BASE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "privacy_portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # PostgreSQL's lookups (unaccent, for finding "Müller" by "Muller"); inert on SQLite.
    "django.contrib.postgres",
    "django.forms",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "privacy_portal.audit",
    "accounts",
    "consent",
    "dsr",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "privacy_portal.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "privacy_portal.middleware.UserLanguageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "consent.middleware.GlobalPrivacyControlMiddleware",
    "consent.middleware.AccountCookieChoiceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "privacy_portal.middleware.SessionTimeoutMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "privacy_portal.middleware.ContentSecurityPolicyMiddleware",
    "privacy_portal.middleware.PrivacyHeadersMiddleware",
    "privacy_portal.middleware.BoundedBodyMiddleware",
    # Last: answers cached consent API reads without the REST framework (consent/api/fastpath.py).
    "consent.api.fastpath.ConsentReadFastPath",
]
CONSENT_API_FAST_PATH = env.bool("CONSENT_API_FAST_PATH", default=True)

ROOT_URLCONF = "privacy_portal.urls"
FORM_RENDERER = "privacy_portal.forms.PortalFormRenderer"
WSGI_APPLICATION = "privacy_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "privacy_portal.context_processors.portal",
            ],
            "libraries": {"portal_time": "privacy_portal.timeformat"},
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: wait for locks instead of failing, and take the
    # write lock at BEGIN so that SELECT ... then UPDATE cannot deadlock.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, computed overviews) --------------------------------------------------
REDIS_URL: str = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "privacy_portal.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="portal"),
            "KEY_FUNCTION": "privacy_portal.cache.cache_key",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # Shared between the web and worker processes of one machine, with no server to run.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_FUNCTION": "privacy_portal.cache.cache_key",
        }
    }

# --- Authentication ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:profile"
LOGOUT_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
MFA_ADAPTER = "accounts.adapter.MFAAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# How allauth names the account to the person ("Successfully signed in as …"): by its address.
ACCOUNT_USER_DISPLAY = "accounts.adapter.user_display"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_FORMS = {
    "signup": "accounts.forms.SignupForm",
    "add_email": "accounts.forms.AddEmailForm",
    "change_email": "accounts.forms.ChangeEmailForm",
}
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = env.int("ACCOUNT_REAUTHENTICATION_TIMEOUT", default=300)
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Inper: "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PORTAL_BASE_URL.startswith("https") else "http"
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reauthenticate": "10/m/user",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Inper Privacy Portal"
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Sessions and cookies ---------------------------------------------------------------------
# Database sessions that name their account (an erasure deletes them): see accounts/sessions.py.
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_ABSOLUTE_TIMEOUT = env.int("SESSION_ABSOLUTE_TIMEOUT", default=12 * 60 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "privacy_portal.views.csrf_failure"
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
# Messages wait in the session, not in a cookie of their own (some name the person's address).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Security headers -------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("de", _("German"))]
# Short English dates with the month's name (privacy_portal/formats/en/formats.py).
FORMAT_MODULE_PATH = ["privacy_portal.formats"]
# The first path wins: the portal's own texts (makemessages), then formal German for the
# django-allauth texts customers see (allauth's own German says "du"); both win over the apps'.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_allauth"]
# Country names as people write them: django-countries follows ISO's short names ("Naoero")
# and its German catalogue spells some without their hyphens ("Saudi Arabien"); these
# messages are in the portal's own catalogue, which comes first.
COUNTRIES_OVERRIDE = {
    "BS": _("Bahamas"),
    "NR": _("Nauru"),
    "HK": _("Hong Kong"),
    "PG": _("Papua New Guinea"),
    "SA": _("Saudi Arabia"),
}
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Email ------------------------------------------------------------------------------------
# EMAIL_URL: smtp+tls://user:password@host:587 in production; by default every message is
# written to a file under var/mail/ so that a developer can read it.
_email = env.email_url("EMAIL_URL", default="filemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_FILE_PATH = _email.get("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Inper Privacy <privacy@inper.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PORTAL_SUPPORT_EMAIL = env("PORTAL_SUPPORT_EMAIL", default="support@inper.com")
PORTAL_PRIVACY_EMAIL = env("PORTAL_PRIVACY_EMAIL", default="privacy@inper.com")
# The record of processing (GDPR Art. 30(1)(a)) names the data protection officer and, for a
# controller outside the EU, its representative in the EU.
PORTAL_DPO_CONTACT = env("PORTAL_DPO_CONTACT", default=PORTAL_PRIVACY_EMAIL)
PORTAL_EU_REPRESENTATIVE = env("PORTAL_EU_REPRESENTATIVE", default="")

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL: str = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = str(VAR_DIR / "broker" / "queue")
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": _queue_dir,
        "data_folder_out": _queue_dir,
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        # Exchange tables: otherwise kombu writes them to ./control in the working directory.
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
        # How often an idle worker looks for messages (kombu's default: every second).
        "polling_interval": 0.2,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task whose worker died is delivered again after this many seconds; the
        # reconciler (dsr) usually picks it up sooner.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=900),
        "socket_connect_timeout": 3,
        "socket_timeout": 5,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# Light work and heavy exports run on separate queues, so that hosts can be dedicated to each.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_DEFAULT_QUEUE", default="portal")
CELERY_EXPORTS_QUEUE = env("CELERY_EXPORTS_QUEUE", default="exports")
CELERY_TASK_ROUTES: dict[str, dict[str, str]] = {}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
# Celery's Django fix-up closes the database connections around every task unless this is set;
# privacy_portal.celery_db keeps them between tasks where that is safe (CONN_MAX_AGE above) and
# the fix-up still replaces them every this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "audit-chain-verify": {
        "task": "privacy_portal.audit.tasks.audit_chain_verify_task",
        "schedule": 24 * 60 * 60,
    },
    # Expired sessions hold the address their account signed in with: they go within the hour.
    "accounts-clear-expired-sessions": {
        "task": "accounts.tasks.sessions_clear_expired_task",
        "schedule": 60 * 60,
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Celery's file scheduler, which also makes the file's folder (a fresh checkout has no var/).
CELERY_BEAT_SCHEDULER = "privacy_portal.celery_beat.PortalScheduler"

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only: a form-encoded body would turn a missing boolean into false.
    "DEFAULT_PARSER_CLASSES": ["consent.api.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
    # One version, named in the paths (/api/v1/): the schema's ?version= takes nothing else
    # (it is written into the download's file name, a header).
    "ALLOWED_VERSIONS": ["v1"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Inper Privacy Portal API",
    "DESCRIPTION": "Consent and data-subject-request API for Inper's other systems.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "privacy_portal.api_schema.document_errors",
    ],
}

# --- Privacy of the portal's own data -----------------------------------------------------------
# Key for keyed hashes (suppression lists, erasure records, user-agent hashes). It must outlive
# SECRET_KEY rotations, so it is its own setting.
PORTAL_HASH_KEY: str = env("PORTAL_HASH_KEY", default="dev-only-hash-key-9f8e7d6c5b4a")
# Fernet keys for data encrypted at rest (connector and webhook secrets, export packages).
# The first key encrypts; all of them decrypt, so a key can be rotated in (see
# docs/operations.md).
PORTAL_ENCRYPTION_KEYS: list[str] = env.list(
    "PORTAL_ENCRYPTION_KEYS", default=["ZGV2LW9ubHktbm90LXNlY3JldC1rZXktMzJieXRlcyE="]
)
# Every value encrypted with those keys, as "app_label.Model.field" (rotate_encryption_keys).
PORTAL_ENCRYPTED_FIELDS: list[str] = [
    "dsr.DataStore.secrets_encrypted",
    "dsr.ExportPackage.key_encrypted",
    "dsr.DataSubjectRequest.subject_snapshot",
    "consent.WebhookSubscription.secret_encrypted",
]
# Encrypted values inside JSON columns (``crypto.encrypt_text``): the second factors' secrets.
PORTAL_ENCRYPTED_JSON_KEYS: dict[str, tuple[str, ...]] = {
    "mfa.Authenticator.data": ("secret", "seed"),
}
# Adults only, as the privacy statement says.
ACCOUNTS_MINIMUM_AGE = 18
ACCOUNTS_MAX_ADDRESSES = 20

# --- Consent (see docs/consent.md) ------------------------------------------------------------
# The banner's cookie and how long a cookie choice lasts before the banner asks again.
CONSENT_COOKIE_NAME: str = env("CONSENT_COOKIE_NAME", default="inper_consent")
CONSENT_CHOICE_LIFETIME_DAYS: int = env.int("CONSENT_CHOICE_LIFETIME_DAYS", default=365)
# Origins of Inper's other sites that embed banner.js (they may save choices cross-origin).
CONSENT_BANNER_ORIGINS: list[str] = env.list("CONSENT_BANNER_ORIGINS", default=[])
# The portal's own measurement tags, run only after consent: [{"category": ..., "src": ...}].
CONSENT_PORTAL_TAGS: list[dict[str, str]] = env.json("CONSENT_PORTAL_TAGS", default=[])
# A mailbox whose unsubscribe requests something processes (see docs/consent.md); empty, the
# default: List-Unsubscribe offers only the one-click https link, and no address nobody reads.
CONSENT_UNSUBSCRIBE_MAILTO: str = env("CONSENT_UNSUBSCRIBE_MAILTO", default="")
CONSENT_UNSUBSCRIBE_MAX_AGE_DAYS: int = env.int("CONSENT_UNSUBSCRIBE_MAX_AGE_DAYS", default=365)
CONSENT_CONFIRMATION_MAX_AGE_HOURS: int = env.int("CONSENT_CONFIRMATION_MAX_AGE_HOURS", default=72)
# Shared secret of the SMS provider's inbound webhook (empty: the webhook is off).
CONSENT_SMS_WEBHOOK_SECRET: str = env("CONSENT_SMS_WEBHOOK_SECRET", default="")
CONSENT_SMS_WEBHOOK_TOLERANCE_SECONDS: int = env.int(
    "CONSENT_SMS_WEBHOOK_TOLERANCE_SECONDS", default=300
)
# Pushes to subscribed systems: attempts, first backoff (doubling, with jitter), HTTP timeout.
CONSENT_WEBHOOK_MAX_ATTEMPTS: int = env.int("CONSENT_WEBHOOK_MAX_ATTEMPTS", default=8)
CONSENT_WEBHOOK_BACKOFF_SECONDS: float = env.float("CONSENT_WEBHOOK_BACKOFF_SECONDS", default=30)
CONSENT_WEBHOOK_TIMEOUT_SECONDS: float = env.float("CONSENT_WEBHOOK_TIMEOUT_SECONDS", default=5)
# Rate limits of the anonymous endpoints (per client address), django-ratelimit syntax.
CONSENT_RATE_BANNER: str = env("CONSENT_RATE_BANNER", default="120/m")
CONSENT_RATE_UNSUBSCRIBE: str = env("CONSENT_RATE_UNSUBSCRIBE", default="30/m")
CONSENT_RATE_SMS_WEBHOOK: str = env("CONSENT_RATE_SMS_WEBHOOK", default="600/m")
CELERY_BEAT_SCHEDULE["consent-webhook-redeliver"] = {
    "task": "consent.tasks.consent_webhook_redeliver_task",
    "schedule": 5 * 60,
}

# --- Logging: structured, no personal data ------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "refused": {"()": "privacy_portal.logs.RefusedRequestFilter"},
        "scrub": {"()": "privacy_portal.logs.ScrubPersonalDataFilter"},
    },
    "formatters": {
        "json": {
            "()": "privacy_portal.logs.ScrubbingJsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["refused", "scrub"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers (a plain console line beside the masked one while DEBUG is on,
        # and mail to ADMINS) replaced: its records go through the masking handler only.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # The server's request lines carry paths with tokens; the portal logs its own lines.
        "django.server": {"handlers": [], "level": "ERROR", "propagate": False},
        "django.request": {"level": "ERROR"},
        "celery": {"level": "INFO"},
    },
}

# --- Rate limits of the portal's own forms (allauth has its own, above) -----------------------
RATELIMIT_VIEW = "privacy_portal.views.ratelimited"
# Clients are counted by ``privacy_portal.pseudonymise.ratelimit_client`` (a keyed hash of
# their address), never by django-ratelimit's own "ip" keys.

# --- Data-subject requests ---------------------------------------------------------------------
ACCOUNTS_CLOSURE_HANDLER = "dsr.services.dsr_request_open_for_closure"
# Apps whose personal_data module declares the portal's own personal data.
DSR_PORTAL_DECLARATIONS = ["accounts.personal_data", "consent.personal_data", "dsr.personal_data"]
# Where export packages are built and kept (encrypted); every web and worker host must share it.
DSR_STORAGE_DIR = Path(env("DSR_STORAGE_DIR", default=str(VAR_DIR / "dsr")))
DSR_PACKAGE_DAYS = env.int("DSR_PACKAGE_DAYS", default=7)
DSR_VERIFICATION_DAYS = env.int("DSR_VERIFICATION_DAYS", default=7)
DSR_VERIFICATION_REMINDER_HOURS = env.int("DSR_VERIFICATION_REMINDER_HOURS", default=24)
DSR_REQUEST_RETENTION_DAYS = env.int("DSR_REQUEST_RETENTION_DAYS", default=730)
# Retention jobs (dsr/retention.py); expired packages are purged by "dsr-purge-packages" below.
CELERY_BEAT_SCHEDULE.update(
    {
        f"dsr-retention-{job.replace('_', '-')}": {
            "task": "dsr.tasks.retention_job_task",
            "schedule": seconds,
            "args": (job,),
        }
        for job, seconds in (
            ("close_unverified", 60 * 60),
            ("redact_requests", 24 * 60 * 60),
            ("store_retention", 24 * 60 * 60),
        )
    }
)
# Request types carried out without a compliance officer's approval once identity is confirmed.
DSR_AUTO_APPROVE: list[str] = env.list(
    "DSR_AUTO_APPROVE", default=["access", "portability", "withdraw_consent", "objection"]
)
# Access and erasure are held for review when the password or e-mail changed this recently.
DSR_HOLD_AFTER_CREDENTIAL_CHANGE_HOURS = env.int(
    "DSR_HOLD_AFTER_CREDENTIAL_CHANGE_HOURS", default=24
)
DSR_TASK_LEASE_SECONDS = env.int("DSR_TASK_LEASE_SECONDS", default=120)
# How long the "my data" page's search of every store is reused before it runs again.
DSR_HOLDINGS_CACHE_SECONDS = env.int("DSR_HOLDINGS_CACHE_SECONDS", default=10 * 60)
# Staff are reminded of a manual step that has waited this long (and again after as long).
DSR_MANUAL_REMINDER_HOURS = env.int("DSR_MANUAL_REMINDER_HOURS", default=48)
DSR_TASK_MAX_ATTEMPTS = env.int("DSR_TASK_MAX_ATTEMPTS", default=5)
DSR_RETRY_BASE_SECONDS = env.float("DSR_RETRY_BASE_SECONDS", default=20.0)
DSR_RECONCILE_SECONDS = env.int("DSR_RECONCILE_SECONDS", default=60)
# Connectors staff may choose for a store, by dotted path.
DSR_CONNECTORS: dict[str, str] = {
    "portal": "dsr.connectors.portal.PortalConnector",
    "sql": "dsr.connectors.sql.SQLConnector",
    "http": "dsr.connectors.http.HTTPConnector",
    "files": "dsr.connectors.files.FileStoreConnector",
    "manual": "dsr.connectors.manual.ManualConnector",
}
# Where Inper's services post deferred results (the portal's address as they reach it).
DSR_CALLBACK_BASE_URL: str = env("DSR_CALLBACK_BASE_URL", default=PORTAL_BASE_URL).rstrip("/")
DSR_CALLBACK_MAX_BYTES = env.int("DSR_CALLBACK_MAX_BYTES", default=20 * 1024 * 1024)
# Where `manage.py demo_services` serves the demo newsletter platform and group CRM.
DSR_DEMO_SERVICES_URL: str = env("DSR_DEMO_SERVICES_URL", default="http://127.0.0.1:8010")
# A service that accepted work (HTTP 202) is asked again after this long without its callback.
DSR_CALLBACK_TIMEOUT_SECONDS = env.int("DSR_CALLBACK_TIMEOUT_SECONDS", default=6 * 60 * 60)
# How long the link to a guest's request page works (every e-mail about it carries a new one).
DSR_STATUS_LINK_DAYS = env.int("DSR_STATUS_LINK_DAYS", default=120)
# Per account when signed in, per client address otherwise: filing a request, confirming a
# guest's request (with its order number), and the guest download page (one-time codes).
DSR_INTAKE_RATE = env("DSR_INTAKE_RATE", default="10/h")
# Opt-outs (objections to direct marketing, withdrawals that take effect at once) are counted
# apart: others' requests from a shared address must not keep anyone's marketing going.
DSR_OPT_OUT_RATE = env("DSR_OPT_OUT_RATE", default="60/h")
# Requests filed without signing in for one e-mail address, from anywhere: each sends e-mails
# to that address, which must not become a way to flood someone's inbox.
DSR_INTAKE_RATE_PER_EMAIL = env("DSR_INTAKE_RATE_PER_EMAIL", default="5/h")
DSR_VERIFY_RATE = env("DSR_VERIFY_RATE", default="30/h")
DSR_DOWNLOAD_CODE_RATE = env("DSR_DOWNLOAD_CODE_RATE", default="20/h")
CELERY_TASK_ROUTES.update(
    {
        "dsr.tasks.store_export_task": {"queue": CELERY_EXPORTS_QUEUE},
        "dsr.tasks.package_build_task": {"queue": CELERY_EXPORTS_QUEUE},
    }
)
CELERY_BEAT_SCHEDULE.update(
    {
        "dsr-reconcile": {"task": "dsr.tasks.reconcile_task", "schedule": DSR_RECONCILE_SECONDS},
        "dsr-deadlines": {"task": "dsr.tasks.deadlines_task", "schedule": 15 * 60},
        "dsr-purge-packages": {"task": "dsr.tasks.purge_packages_task", "schedule": 60 * 60},
        "dsr-callbacks-overdue": {
            "task": "dsr.tasks.callbacks_overdue_task",
            "schedule": 10 * 60,
        },
    }
)
