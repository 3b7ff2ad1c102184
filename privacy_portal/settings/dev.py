"""Developer machine: debug on, everything embedded (SQLite, filesystem broker, file emails)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)

# The demo's SMS provider secret, so that a signed STOP reply works in the demo (docs/consent.md).
CONSENT_SMS_WEBHOOK_SECRET = env(
    "CONSENT_SMS_WEBHOOK_SECRET", default="demo-sms-webhook-secret-not-for-production"
)
