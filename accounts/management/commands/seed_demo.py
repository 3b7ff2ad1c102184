"""``manage.py seed_demo``: create the demo customers and one staff user per role, and the
demo world's stores (the Inper shop database, uploads, newsletter platform and others).

Idempotent: running it again resets the demo accounts' passwords and second factors, restores
the demo customers' data in the stores, and leaves everything else alone. Refuses to run
unless DEBUG or PORTAL_DEMO is set.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import CUSTOMERS, DEMO_PASSWORD, DEMO_TOTP_SECRET, STAFF, seed_demo_people


class Command(BaseCommand):
    help = "Create or reset the demo customers and staff accounts (one per role)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not (settings.DEBUG or getattr(settings, "PORTAL_DEMO", False)):
            raise CommandError("Demo data is for development only (set DEBUG or PORTAL_DEMO).")
        seed_demo_people()
        from dsr.demo import seed_demo_world

        seed_demo_world(self.stdout.write)
        self.stdout.write(f"Demo accounts, all with the password {DEMO_PASSWORD}:")
        for spec in CUSTOMERS:
            self.stdout.write(f"  customer            {spec['email']}")
        for spec in STAFF:
            role = spec.get("group") or "superuser"
            self.stdout.write(f"  {role:<19} {spec['email']}")
        self.stdout.write(
            f"Staff sign in with a one-time code from the TOTP secret {DEMO_TOTP_SECRET}; "
            "print the current code with: python manage.py demo_totp"
        )
