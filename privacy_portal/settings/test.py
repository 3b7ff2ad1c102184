"""Test settings: the real PostgreSQL and Redis when configured (CI sets both)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Inper: "
# Browser journeys read captured mail from files; plain tests use the in-memory outbox.
if env("TEST_EMAIL_FILE_PATH", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env("TEST_EMAIL_FILE_PATH")

# Connectors that exist only for tests (failing on demand, waiting for staff, restricting,
# told as a recipient, knowing order numbers).
DSR_CONNECTORS = {
    **DSR_CONNECTORS,  # noqa: F405
    "test-flaky": "tests.dsr.connectors.FlakyConnector",
    "test-manual": "tests.dsr.connectors.StaffStepConnector",
    "test-slow": "tests.dsr.connectors.SlowConnector",
    "test-restricting": "tests.dsr.connectors.RestrictingConnector",
    "test-recipient": "tests.dsr.connectors.RecipientConnector",
    "test-orders": "tests.dsr.connectors.OrderBookConnector",
}
DSR_RETRY_BASE_SECONDS = 0.2
DSR_TASK_LEASE_SECONDS = 5
DSR_RECONCILE_SECONDS = 2
CELERY_BEAT_SCHEDULE["dsr-reconcile"]["schedule"] = DSR_RECONCILE_SECONDS  # noqa: F405

# The suite empties its database between transactional tests with TRUNCATE, which the
# append-only tables refuse to any other connection (privacy_portal.dbutils.refuse_truncate).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c portal.allow_truncate=on"  # noqa: F405
