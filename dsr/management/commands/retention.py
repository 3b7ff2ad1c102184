"""``manage.py retention``: run the retention jobs now (all, or those named), or with
``--dry-run`` only report what they would do. Exits 1 if a job failed."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dsr.retention import JOBS, retention_run


class Command(BaseCommand):
    help = "Run the retention jobs (or, with --dry-run, report what they would do)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change; change nothing."
        )
        parser.add_argument(
            "--job", action="append", choices=sorted(JOBS), help="Run only this job (repeatable)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        failed = []
        for key in options["job"] or list(JOBS):
            run = retention_run(job=key, dry_run=dry_run)
            verb = "would change" if dry_run else "changed"
            outcome = f"{verb} {run.count}" if run.ok else f"FAILED {run.error}".strip()
            self.stdout.write(f"{key}: {outcome}")
            unenforced = [
                store["name"]
                for store in (run.report.get("stores") or {}).values()
                if store.get("state") == "skipped" and store.get("stated_rule")
            ]
            if unenforced:
                self.stdout.write(
                    "  not applied by the portal (the store or staff keep their stated rule): "
                    + ", ".join(unenforced)
                )
            report = {k: v for k, v in run.report.items() if k != "count" and v}
            if report and options["verbosity"] > 1:
                self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))
            if not run.ok:
                failed.append(key)
        if failed:
            raise CommandError(f"retention jobs failed: {', '.join(failed)}")
