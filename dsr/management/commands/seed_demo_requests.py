"""``manage.py seed_demo_requests``: a year of made-up requests for the dashboard (demo only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dsr.dashboard.demo import seed_demo_requests


class Command(BaseCommand):
    help = "Create demo requests in every state, spread over the last year (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=80)

    def handle(self, *args: Any, **options: Any) -> None:
        if not (settings.DEBUG or getattr(settings, "PORTAL_DEMO", False)):
            raise CommandError("Demo data is for development only (set DEBUG or PORTAL_DEMO).")
        created = seed_demo_requests(count=options["count"])
        self.stdout.write(f"{created} demo requests created.")
