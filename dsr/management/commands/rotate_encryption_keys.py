"""``manage.py rotate_encryption_keys``: re-encrypt every secret, package key and request
identity under the first key of ``PORTAL_ENCRYPTION_KEYS`` (``--check``: only check that all
of them can be decrypted with the configured keys). See docs/operations.md."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from privacy_portal.key_rotation import encryption_keys_rotate


class Command(BaseCommand):
    help = "Re-encrypt everything encrypted at rest under the first PORTAL_ENCRYPTION_KEYS key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only check that every encrypted value can be decrypted; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check = bool(options["check"])
        reports = encryption_keys_rotate(check_only=check)
        verb = "readable" if check else "re-encrypted"
        failed = False
        for label, report in reports.items():
            self.stdout.write(f"{label}: {report.done} {verb}")
            if report.unreadable:
                failed = True
                ids = ", ".join(str(pk) for pk in report.unreadable[:20])
                self.stderr.write(
                    f"{label}: {len(report.unreadable)} cannot be decrypted with any configured"
                    f" key (ids {ids})"
                )
        if failed:
            raise CommandError(
                "Some values cannot be decrypted: keep the key that encrypted them in "
                "PORTAL_ENCRYPTION_KEYS."
            )
        if not check:
            self.stdout.write(
                self.style.SUCCESS(
                    "Done. Every value is now encrypted under the first key; once "
                    "`rotate_encryption_keys --check` passes with the old key removed, it can go."
                )
            )
