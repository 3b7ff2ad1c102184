"""Short, staff-facing names of request types and states (the models' labels speak to the
person who asked: "Waiting for you to confirm your e-mail")."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from consent.models import Source

from ..connectors.base import error_text
from ..models import (
    Action,
    Channel,
    IdentityMethod,
    Regime,
    RejectionReason,
    RequestType,
    State,
    TaskState,
)

TYPE_LABELS: dict[str, StrOrPromise] = {
    RequestType.ACCESS: _("Access"),
    RequestType.PORTABILITY: _("Portability"),
    RequestType.RECTIFICATION: _("Rectification"),
    RequestType.ERASURE: _("Erasure"),
    RequestType.RESTRICTION: _("Restriction"),
    RequestType.OBJECTION: _("Objection"),
    RequestType.WITHDRAW_CONSENT: _("Consent withdrawal"),
}

STATE_LABELS: dict[str, StrOrPromise] = {
    State.RECEIVED: _("Received"),
    State.AWAITING_IDENTITY: _("Awaiting identity"),
    State.VERIFIED: _("Identity confirmed"),
    State.IN_REVIEW: _("In review"),
    State.APPROVED: _("Approved"),
    State.RUNNING: _("Running"),
    State.WAITING: _("Waiting on staff"),
    State.COMPLETED: _("Completed"),
    State.PARTIALLY_COMPLETED: _("Partially completed"),
    State.REJECTED: _("Rejected"),
    State.CANCELLED: _("Cancelled"),
    State.CLOSED_UNVERIFIED: _("Closed unverified"),
    State.DUPLICATE: _("Duplicate"),
}


#: Why a request was denied, as officers and regulators name it (the models' labels are the
#: sentences the person reads).
REJECTION_LABELS: dict[str, StrOrPromise] = {
    RejectionReason.IDENTITY: _("identity not confirmed"),
    RejectionReason.MANIFESTLY_UNFOUNDED: _("manifestly unfounded or excessive"),
    RejectionReason.LEGAL_OBLIGATION: _("legal obligation"),
    RejectionReason.RIGHTS_OF_OTHERS: _("rights of others"),
    RejectionReason.LEGAL_CLAIMS: _("legal claims"),
    RejectionReason.OTHER: _("another reason"),
}


#: How a closed request ended (``DataSubjectRequest.outcome``).
OUTCOME_LABELS: dict[str, StrOrPromise] = {
    "done": _("Done"),
    "no_data_found": _("No data found"),
    "copy_erased": _("Copy destroyed by the person's erasure"),
    "unverified": _("Identity never confirmed"),
    "rejected": _("Rejected"),
    "cancelled": _("Cancelled"),
}


#: Why a request changed state (the audit event's reason code), as officers read it.
REASON_LABELS: dict[str, StrOrPromise] = {
    "identity_confirmed": _("identity confirmed at filing"),
    "verification_sent": _("confirmation link sent"),
    "email_confirmed": _("e-mail address confirmed"),
    "email_and_order_matched": _("e-mail address confirmed and an order number matched"),
    "email_confirmed_knowledge_unmatched": _(
        "e-mail address confirmed, but no order number matched"
    ),
    "identity_verified_by_staff": _("identity checked by staff"),
    "needs_approval": _("needs an officer's approval"),
    "credentials_recently_changed": _("held: the account's password or e-mail changed recently"),
    "approved": _("approved"),
    "tasks_planned": _("store tasks planned"),
    "tasks_running": _("store tasks running"),
    "waiting_on_manual_or_external_step": _("waiting on a manual step or a store's answer"),
    "step_failed": _("a step failed: retry it, or answer the person without it"),
    "without_correction_request": _("made without a correction request of the customer's"),
    "all_steps_done": _("every step done"),
    "task_retried": _("a store task was retried"),
    "done": _("done"),
    "partly_done": _("answered without what the failed steps would have done"),
    "no_data_found": _("no data found"),
    "copy_erased": _("copy destroyed by the person's erasure"),
    "cancelled": _("cancelled by the person"),
    "cancelled_for_person": _("cancelled by staff, as the person asked"),
    "verification_expired": _("the confirmation link was never used"),
    "superseded_by_newer_request": _("replaced by a newer request"),
}

#: The fields an audit event's details name, and how to read their values.
DETAIL_LABELS: dict[str, StrOrPromise] = {
    "type": _("Type"),
    "channel": _("Channel"),
    "regime": _("Law"),
    "identity_method": _("Identity"),
    "outcome": _("Outcome"),
    "rejection_reason": _("Reason"),
    "held_reason": _("held for review"),
    "account": _("Customer account"),
    "person_told": _("Person told by e-mail"),
    "stores": _("Stores"),
    "store": _("Store"),
    "tasks": _("Steps planned"),
    "action": _("Step"),
    "attempt": _("Attempt"),
    "error": _("Error"),
    "failed_with": _("Had failed with"),
    "after_attempts": _("Attempts before the retry"),
    "duplicate_of": _("Duplicate of"),
    "fields": _("Fields"),
    "due_at": _("Due by"),
    "unreached": _("not asked (they cannot find the person by what is known of them)"),
    "note_sha256": _("Checksum of the staff's note (SHA-256)"),
    "evidence_sha256": _("Checksum of the evidence file (SHA-256)"),
    "nothing_held": _("The system holds nothing about the person"),
    "files": _("Files from the system"),
    "members": _("Files in the copy"),
    "bytes": _("Size in bytes"),
    "state": _("State"),
    "assignee_id": _("Assigned to"),
    "stores_left": _("Stores where staff lift it by hand"),
    "purpose_id": _("Purpose"),
    "granted": _("Given"),
    "source": _("Made through"),
    "method": _("Method"),
    "ok": _("Succeeded"),
    "checked": _("Events checked"),
    "broken_seq": _("First broken event"),
    "records": _("Records"),
    "erased": _("Erased"),
    "invalid": _("Invalid"),
    "deleted": _("Deleted"),
    "anonymised": _("Anonymised"),
    "job": _("Job"),
    "count": _("Records"),
    "status": _("Status"),
    "channels": _("Channels"),
    "accounts": _("Accounts"),
    "document": _("Document"),
    "version": _("Version"),
    "material": _("Material change"),
    "filters": _("Filters"),
    "note": _("Note"),
    "package": _("Copy"),
    "adult_confirmed": _("Confirmed as an adult"),
}
#: Details that are a step's error as stored (see ``dsr.connectors.base.error_detail``).
ERROR_DETAILS = frozenset({"error", "failed_with"})
#: Details that are times (ISO 8601 in the audit trail), shown as dates.
_DATE_DETAILS = frozenset({"due_at"})
_DETAIL_VALUES: dict[str, Mapping[str, StrOrPromise]] = {
    "type": TYPE_LABELS,
    "channel": dict(Channel.choices),
    "regime": dict(Regime.choices),
    "identity_method": dict(IdentityMethod.choices),
    "action": dict(Action.choices),
    "outcome": OUTCOME_LABELS,
    "rejection_reason": REJECTION_LABELS,
    "state": {**dict(TaskState.choices), **STATE_LABELS},
    "source": dict(Source.choices),
    "held_reason": {
        "credentials_recently_changed": _(
            "the account's password or e-mail address changed recently"
        ),
        "identity_needs_review": _(
            "no order number given, or none a store knows: check the identity"
        ),
    },
}


def reason_label(code: str) -> str:
    """Return an audit event's reason in words (the code itself if unknown)."""
    if code.startswith("corrected_for:"):
        return _("for correction request %(references)s") % {
            "references": code.split(":", 1)[1].replace(",", ", ")
        }
    if code.startswith("rejected:"):
        reason = code.split(":", 1)[1]
        return f"{_('Rejected')}: {dict(RejectionReason.choices).get(reason, reason)}"
    return str(REASON_LABELS.get(code, code))


def detail_label(key: str, value: object) -> tuple[str, str]:
    """Return a detail of an audit event (a field and its value) in words where known."""
    values = _DETAIL_VALUES.get(key, {})
    shown = values.get(value, value) if isinstance(value, str) else value
    if isinstance(value, bool):
        shown = _("yes") if value else _("no")
    if key in ERROR_DETAILS and isinstance(value, Mapping):
        shown = error_text(value)  # stored untranslated: in the reader's language
    if key in _DATE_DETAILS and isinstance(value, str):
        with suppress(ValueError):  # not a time after all: shown as it is
            shown = date_format(timezone.localtime(datetime.fromisoformat(value)), "DATE_FORMAT")
    return str(DETAIL_LABELS.get(key, key)), str(shown)


def type_label(value: str) -> str:
    return str(TYPE_LABELS.get(value, value))


def state_label(value: str) -> str:
    return str(STATE_LABELS.get(value, value))


def outcome_label(value: str) -> str:
    return str(OUTCOME_LABELS.get(value, value))
