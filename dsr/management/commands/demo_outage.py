"""``manage.py demo_outage newsletter``: make a demo service refuse the portal's requests, so
that staff see a step fail (the officers' e-mail, the request page's failed step) and retry it
once ``manage.py demo_outage newsletter --end`` brought the service back."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dsr.demo import services, services_path_checked


class Command(BaseCommand):
    help = "Take a demo service (newsletter or group-crm) down, or bring it back (--end)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("service", choices=services.OUTAGE_ENDPOINTS)
        parser.add_argument("--end", action="store_true", help="Bring the service back.")

    def handle(self, *args: Any, **options: Any) -> None:
        service = options["service"]
        services.outage_set(services_path_checked(), service, on=not options["end"])
        if options["end"]:
            self.stdout.write(
                f"The demo {service} service answers again: retry its failed steps on each "
                "request's page in the dashboard."
            )
        else:
            self.stdout.write(
                f"The demo {service} service now refuses the portal's requests: a request "
                f"that reaches it fails there. End it with `manage.py demo_outage {service} --end`."
            )
