"""Periodic check of the audit trail."""

from __future__ import annotations

import logging

from celery import shared_task

from .selectors import ChainStatus, audit_chain_verify
from .services import audit_record

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3300)
def audit_chain_verify_task() -> None:
    """Verify the whole chain and record the outcome (as an audit event, and a log line)."""
    audit_chain_check()


def audit_chain_check() -> ChainStatus:
    """Verify the whole chain and record the outcome, with its anchor, as an audit event and a
    log line (the daily task, an officer's "verify now", ``manage.py verify_audit``)."""
    status = audit_chain_verify()
    if not status.ok:
        logger.error(
            "audit chain broken", extra={"seq": status.broken_seq, "problem": status.problem}
        )
    elif status.anchor:
        # Kept by the log's store, outside the database: a trail rewritten later, every hash
        # recomputed, no longer matches it (``manage.py verify_audit --anchor``).
        logger.info("audit chain anchor", extra={"anchor": status.anchor})
    audit_record(
        actor=None,
        action="audit.chain.verified" if status.ok else "audit.chain.broken",
        target=("audit.chain", "1"),
        after={
            "ok": status.ok,
            "checked": status.checked,
            "broken_seq": status.broken_seq,
            # Where and how it broke, for the dashboard to name the first broken link.
            **({} if status.ok else {"broken_id": status.broken_id, "problem": status.problem}),
            **({"anchor": status.anchor} if status.anchor else {}),
        },
    )
    return status
