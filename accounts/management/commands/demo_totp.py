"""``manage.py demo_totp``: print the current one-time code of the demo staff accounts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.demo import totp_code


class Command(BaseCommand):
    help = "Print the current TOTP code for the demo staff accounts."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(totp_code())
