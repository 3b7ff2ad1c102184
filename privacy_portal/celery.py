"""The Celery application: configured from Django settings (``CELERY_*``), tasks discovered
from each app's ``tasks.py``."""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

# ``filesystem://`` (the embedded broker of ``make run``) writes each message whole before a
# worker can read it (see broker_files).
TRANSPORT_ALIASES["filesystem"] = "privacy_portal.broker_files:Transport"

# As gunicorn's entry point (wsgi.py): a worker or beat started without the variable runs
# the production settings, which refuse to start without their secrets, never the
# development ones (debug on, a known key). ``make run`` and manage.py name theirs.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacy_portal.settings.production")

app = Celery("privacy_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from . import celery_db  # noqa: E402, F401  (connections kept between tasks)
