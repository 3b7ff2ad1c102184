"""The Celery application: configured from Django settings (``CELERY_*``), tasks discovered
from each app's ``tasks.py``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacy_portal.settings.dev")

app = Celery("privacy_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from . import celery_db  # noqa: E402, F401  (connections kept between tasks)
