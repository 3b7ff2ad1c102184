"""Developer machine and the demo: everything embedded (SQLite, filesystem broker, file
e-mails). Debug pages only with ``DEBUG=true``: the demo shows its own error pages, as the
portal does in production, and lists none of its URLs to a visitor who mistypes one."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=False)
# The demo's data and services (seed_demo, demo_services; docs/operations.md).
PORTAL_DEMO = True
# Static files straight from the source folders, changes included (no collectstatic).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# The demo's SMS provider secret, so that a signed STOP reply works in the demo (docs/consent.md).
CONSENT_SMS_WEBHOOK_SECRET = env(
    "CONSENT_SMS_WEBHOOK_SECRET", default="demo-sms-webhook-secret-not-for-production"
)
