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
    #: The hash of the last event checked: with ``head_seq``, an anchor to keep outside the
    #: database (:func:`anchor_mismatch`).
    head_hash: str = ""

    @property
    def anchor(self) -> str:
        """``"<seq>:<hash>"`` of the last event checked ("" for an empty or broken chain)."""
        return f"{self.head_seq}:{self.head_hash}" if self.ok and self.head_hash else ""


def audit_chain_verify(*, chunk_size: int = 5000) -> ChainStatus:
    """Walk the whole chain in order and return where, if anywhere, it breaks.

    The chain is checked up to the head as it stands when the walk starts: events appended
    meanwhile (the portal keeps working during a long walk) are the next walk's. An append
    moves the head in the transaction that inserts the event, so every event up to the head
    read here is committed, and no committed event lies beyond the head read afterwards."""
    start = AuditChainHead.objects.filter(pk=1).first()
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    events = AuditEvent.objects.order_by("seq")
    if start is not None:
        events = events.filter(seq__lte=start.seq)
    for event in events.iterator(chunk_size=chunk_size):
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
    if start is None:
        return ChainStatus(True, checked, 0)
    if start.seq != checked or (checked and start.hash != expected_prev):
        return ChainStatus(
            False, checked, start.seq, None, None, "chain head does not match the last event"
        )
    # Read the last event before the head: the head then includes every event committed.
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None or last > head.seq:
        return ChainStatus(
            False, checked, start.seq, None, None, "an event lies beyond the chain's head"
        )
    return ChainStatus(True, checked, start.seq, head_hash=expected_prev if checked else "")


def anchor_mismatch(anchor: str) -> str:
    """Check an anchor kept outside the database (``"<seq>:<hash>"``, as :attr:`ChainStatus.
    anchor` gave it on an earlier day) against the trail: return what is wrong ("" if the
    event is there with that hash). A chain whose every hash was recomputed after a rewrite
    still verifies; it no longer matches the anchors taken before."""
    seq_text, _, expected = anchor.strip().partition(":")
    if not seq_text.isdigit() or len(expected) != len(GENESIS_HASH):
        return f"not an anchor (expected <seq>:<64 hex digits>): {anchor[:100]!r}"
    found = AuditEvent.objects.filter(seq=int(seq_text)).values_list("hash", flat=True).first()
    if found is None:
        return f"event seq={seq_text} is missing"
    if found != expected.lower():
        return f"event seq={seq_text} has another hash than the anchor: the trail was rewritten"
    return ""
