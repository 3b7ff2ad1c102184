"""Developer machine and the demo: everything embedded (SQLite, filesystem broker, file
e-mails). Debug pages only with ``DEBUG=true``: the demo shows its own error pages, as the
portal does in production, and lists none of its URLs to a visitor who mistypes one."""

import base64
import json
import os
import secrets
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import PORTAL_ENCRYPTION_KEYS, PORTAL_HASH_KEY, SECRET_KEY, VAR_DIR, env


def _demo_keys(folder: Path) -> dict[str, str]:
    """This checkout's keys (``var/keys.json``), made at random the first time the demo runs,
    so that no two demos share what signs their links and encrypts their secrets. A ``var/``
    that holds a database made before keeps the fixed keys its data was made with."""
    path = folder / "keys.json"
    if not path.exists():
        made_before = (folder / "portal.sqlite3").exists()
        keys = {
            "SECRET_KEY": SECRET_KEY if made_before else secrets.token_urlsafe(50),
            "PORTAL_HASH_KEY": PORTAL_HASH_KEY if made_before else secrets.token_urlsafe(32),
            "PORTAL_ENCRYPTION_KEYS": PORTAL_ENCRYPTION_KEYS[0]
            if made_before
            else base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }
        folder.mkdir(parents=True, exist_ok=True)
        # The web server, the worker and beat start together: the first file written whole
        # is everyone's (a link fails where the file already is).
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False) as written:
            json.dump(keys, written)
        os.chmod(written.name, 0o600)
        try:
            os.link(written.name, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(written.name)
    return dict(json.loads(path.read_text()))


_keys = _demo_keys(VAR_DIR)
if "SECRET_KEY" not in os.environ:
    SECRET_KEY = _keys["SECRET_KEY"]
if "PORTAL_HASH_KEY" not in os.environ:
    PORTAL_HASH_KEY = _keys["PORTAL_HASH_KEY"]
if "PORTAL_ENCRYPTION_KEYS" not in os.environ:
    PORTAL_ENCRYPTION_KEYS = [_keys["PORTAL_ENCRYPTION_KEYS"]]

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
