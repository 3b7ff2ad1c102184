"""Reading and checking the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from .models import AuditChainHead, AuditEvent
from .services import GENESIS_HASH, event_digest


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    checked: int
    head_seq: int
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str = ""


def audit_chain_verify(*, chunk_size: int = 5000) -> ChainStatus:
    """Walk the whole chain in order and return where, if anywhere, it breaks."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=chunk_size):
        problem = ""
        if event.seq != expected_seq:
            problem = f"sequence gap: expected {expected_seq}, found {event.seq}"
        elif event.prev_hash != expected_prev:
            problem = "previous-hash link does not match the event before"
        elif event_digest(event) != event.hash:
            problem = "content does not match its hash"
        if problem:
            return ChainStatus(False, checked, expected_seq - 1, event.seq, event.pk, problem)
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    head_seq = head.seq if head else 0
    if head is not None and (head.seq != checked or (checked and head.hash != expected_prev)):
        return ChainStatus(
            False, checked, head_seq, None, None, "chain head does not match the last event"
        )
    return ChainStatus(True, checked, head_seq)
