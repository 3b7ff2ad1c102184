"""``manage.py reapply_erasures``: after restoring a backup, erase again everyone an erasure
record names, in every store that can be searched by keyed hash."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dsr.erasure import erasures_reapply


class Command(BaseCommand):
    help = "Re-apply recorded erasures (run after restoring a backup)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Only report whom it would erase, per store."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = erasures_reapply(dry_run=options["dry_run"])
        verb = "would erase" if options["dry_run"] else "erased"
        self.stdout.write(f"{report.records} erasure records read.")
        for store, count in sorted(report.erased.items()):
            self.stdout.write(f"  {store}: {verb} {count} people")
        for store in report.unsupported:
            self.stdout.write(f"  {store}: cannot be searched by keyed hash; check it by hand")
        for store, error in report.errors.items():
            self.stderr.write(f"  {store}: failed: {error}")
        if report.invalid:
            self.stderr.write(
                f"{len(report.invalid)} records have a broken signature and were skipped: "
                + ", ".join(report.invalid)
            )
        if report.errors or report.invalid:
            # A script restoring a backup must not carry on as if everyone were erased again.
            raise CommandError("Not every erasure could be re-applied: see the lines above.")
