"""Short, staff-facing names of request types and states (the models' labels speak to the
person who asked: "Waiting for you to confirm your e-mail")."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from ..models import RequestType, State

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


#: How a closed request ended (``DataSubjectRequest.outcome``).
OUTCOME_LABELS: dict[str, StrOrPromise] = {
    "done": _("Done"),
    "no_data_found": _("No data found"),
    "copy_erased": _("Copy destroyed by the person's erasure"),
    "unverified": _("Identity never confirmed"),
    "rejected": _("Rejected"),
    "cancelled": _("Cancelled"),
}


def type_label(value: str) -> str:
    return str(TYPE_LABELS.get(value, value))


def state_label(value: str) -> str:
    return str(STATE_LABELS.get(value, value))


def outcome_label(value: str) -> str:
    return str(OUTCOME_LABELS.get(value, value))
