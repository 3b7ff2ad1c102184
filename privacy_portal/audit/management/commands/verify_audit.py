"""``manage.py verify_audit``: check the whole audit chain; exit 1 at the first broken link."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from privacy_portal.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and name the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        status = audit_chain_verify()
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
        self.stdout.write(self.style.SUCCESS(f"Audit chain OK: {status.checked} events verified."))
