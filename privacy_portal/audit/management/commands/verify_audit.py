"""``manage.py verify_audit``: check the whole audit chain; exit 1 at the first broken link, or
where an anchor kept outside the database (``--anchor <seq>:<hash>``) no longer matches."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from privacy_portal.audit.selectors import anchor_mismatch
from privacy_portal.audit.tasks import audit_chain_check


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and name the first broken link."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="SEQ:HASH",
            help="An anchor printed (and logged daily) by an earlier check; may be repeated.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        status = audit_chain_check()  # recorded, as the daily check is
        if not status.ok:
            where = (
                f"event seq={status.broken_seq} (id={status.broken_id})"
                if status.broken_seq is not None
                else "the chain head"
            )
            raise CommandError(
                f"Audit chain BROKEN at {where}: {status.problem}. "
                f"{status.checked} events before it verified."
            )
        wrong = [problem for anchor in options["anchor"] if (problem := anchor_mismatch(anchor))]
        if wrong:
            raise CommandError("Audit chain does not match its anchors: " + "; ".join(wrong))
        self.stdout.write(self.style.SUCCESS(f"Audit chain OK: {status.checked} events verified."))
        if options["anchor"]:
            self.stdout.write(f"It matches the {len(options['anchor'])} anchor(s) given.")
        if status.anchor:
            self.stdout.write(f"Anchor (keep it outside the database): {status.anchor}")
