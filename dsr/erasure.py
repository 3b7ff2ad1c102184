"""Erasure records: signed proof of each erasure that keeps nothing personal beyond keyed
hashes of the identities, and re-applying erasures after a backup was restored."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from privacy_portal.audit.services import audit_record
from privacy_portal.pseudonymise import email_hash, keyed_hash

from .connectors.base import StoreError
from .connectors.registry import connector_class, connector_for
from .models import Action, DataStore, DataSubjectRequest, ErasureRecord

logger = logging.getLogger(__name__)


def _signature(
    reference: str, identity_hashes: dict[str, Any], receipts: dict[str, Any], created_at: str
) -> str:
    payload = json.dumps(
        {
            "reference": reference,
            "identity_hashes": identity_hashes,
            "receipts": receipts,
            "created_at": created_at,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    key = hashlib.sha256(b"erasure-record\x00" + settings.PORTAL_HASH_KEY.encode()).digest()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def erasure_record_create(request: DataSubjectRequest) -> ErasureRecord:
    """Write the signed record of a completed erasure (in the caller's transaction)."""
    snapshot = request.snapshot()
    hashes: dict[str, Any] = {"email": email_hash(snapshot.get("email") or request.email)}
    if snapshot.get("customer_id"):
        hashes["customer_id"] = keyed_hash(str(snapshot["customer_id"]), purpose="customer-id")
    if snapshot.get("phone"):
        hashes["phone"] = keyed_hash(str(snapshot["phone"]), purpose="phone")
    if snapshot.get("former_emails"):
        # Addresses the account had before: stores may have known the person by them.
        hashes["former_emails"] = [email_hash(email) for email in snapshot["former_emails"]]
    # What each store erased, and the recipients told of it (GDPR Art. 19), under
    # "<store>:notify"; a step done by staff carries when, and its evidence file's checksum.
    receipts = {
        task.store.key if task.action == Action.ERASE else f"{task.store.key}:{task.action}": (
            task.receipt
        )
        for task in request.tasks.filter(action__in=(Action.ERASE, Action.NOTIFY)).select_related(
            "store"
        )
    }
    now = timezone.now().replace(microsecond=0)
    record = ErasureRecord(
        reference=request.reference, identity_hashes=hashes, receipts=receipts, created_at=now
    )
    record.signature = _signature(record.reference, hashes, receipts, now.isoformat())
    record.save()
    audit_record(actor=None, action="dsr.erasure.recorded", target=record, scope=request)
    return record


def erasure_record_valid(record: ErasureRecord) -> bool:
    """Return True if the record is exactly as the portal signed it."""
    expected = _signature(
        record.reference, record.identity_hashes, record.receipts, record.created_at.isoformat()
    )
    return hmac.compare_digest(expected, record.signature)


@dataclass
class ReapplyReport:
    records: int = 0
    invalid: list[str] = field(default_factory=list)
    erased: dict[str, int] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def erasures_reapply(*, dry_run: bool = False) -> ReapplyReport:
    """Erase again everyone an erasure record names (after a backup was restored), store by
    store; with ``dry_run``, only count whom it would erase."""
    report = ReapplyReport()
    received = dict(
        DataSubjectRequest.objects.filter(
            reference__in=ErasureRecord.objects.values("reference")
        ).values_list("reference", "received_at")
    )
    # Each identity's hash, with when its latest erasure was asked for (an account closed
    # gives up its address at once, so one opened with it since then is not theirs).
    erased: dict[str, dict[str, datetime]] = {"email": {}, "customer_id": {}}
    for record in ErasureRecord.objects.all().iterator():
        report.records += 1
        if not erasure_record_valid(record):
            report.invalid.append(record.reference)
            continue
        asked = received.get(record.reference, record.created_at)
        for kind, hashes in erased.items():
            digests = [record.identity_hashes.get(kind, "")]
            if kind == "email":
                digests += record.identity_hashes.get("former_emails") or []
            for digest in filter(None, digests):
                hashes[digest] = max(asked, hashes.get(digest, asked))
    for store in DataStore.objects.filter(enabled=True):
        try:
            supports = connector_class(store.connector).supports
        except ImportError:
            continue
        if "reidentify" not in supports or "erase" not in supports:
            report.unsupported.append(store.key)
            continue
        connector = connector_for(store)
        try:
            subjects = connector.subjects_by_hash(erased)
            report.erased[store.key] = len(subjects)
            if not dry_run:
                for subject in subjects:
                    with transaction.atomic():
                        connector.erase(subject)
        except StoreError as error:
            report.errors[store.key] = str(error)
    if not dry_run:
        audit_record(
            actor=None,
            action="dsr.erasure.reapplied",
            target=("dsr.erasurerecord", "*"),
            after={
                "records": report.records,
                "erased": report.erased,
                "invalid": len(report.invalid),
            },
        )
    return report
