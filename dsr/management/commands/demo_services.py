"""``manage.py demo_services``: serve the demo newsletter platform and group CRM (the HTTP
stores of the demo world) beside the portal. ``make run`` starts it; it needs ``seed_demo``
to have run first."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from dsr.demo import services, services_path_checked, services_secrets


class Command(BaseCommand):
    help = "Serve the demo newsletter platform and group CRM (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        address = urlsplit(settings.DSR_DEMO_SERVICES_URL)
        parser.add_argument("--host", default=address.hostname or "127.0.0.1")
        parser.add_argument("--port", type=int, default=address.port or 8010)

    def handle(self, *args: Any, **options: Any) -> None:
        server = services.make_demo_server(
            services_path_checked(),
            services_secrets(),
            host=options["host"],
            port=options["port"],
        )
        self.stdout.write(
            f"Demo newsletter platform and group CRM on http://{options['host']}:{options['port']}/"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
