"""Reads about requests, shaped for the pages that show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from privacy_portal.audit.models import AuditEvent
from privacy_portal.audit.services import scope_of
from privacy_portal.pseudonymise import email_hash

from .models import DataSubjectRequest, State


def requests_of(user: Any) -> QuerySet[DataSubjectRequest]:
    """Return the person's requests, newest first."""
    return DataSubjectRequest.objects.filter(user=user).order_by("-received_at")


def requests_by_email_of(user: Any) -> QuerySet[DataSubjectRequest]:
    """Return the requests made without signing in with the account's verified address, or
    with an address it had before that no other account has since proven to be its own: the
    requests "What Inper holds about me" counts beside the person's own. Newest first."""
    from allauth.account.models import EmailAddress

    from accounts.selectors import account_former_emails

    emails = list(account_former_emails(user.pk, searchable=True))
    if EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists():
        emails.append(user.email)
    keys = {email_hash(email) for email in emails if email}
    return (
        DataSubjectRequest.objects.filter(subject_key__in=keys, user__isnull=True)
        .only(
            "reference",
            "type",
            "state",
            "received_at",
            "due_at",
            "restriction_lifted_at",
            "restriction_lift_started_at",
        )
        .order_by("-received_at")
    )


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    text: str


_ACTION_TEXT = {
    "dsr.request.received": lambda e: _("We received your request"),
    "dsr.request.extended": lambda e: _("We extended the deadline and told you why"),
    "dsr.package.built": lambda e: _("Your copy was put together"),
    "dsr.package.downloaded": lambda e: _("Your copy was downloaded"),
    "dsr.erasure.recorded": lambda e: _("We recorded the erasure"),
    "dsr.restriction.lift_started": lambda e: _(
        "We told you that we are lifting the restriction, and why"
    ),
    "dsr.restriction.lifted": lambda e: _("The restriction was lifted"),
    "dsr.objection.lift_started": lambda e: _(
        "You switched the use on again: we are telling the systems this request had stopped"
    ),
    "dsr.objection.lifted": lambda e: _(
        "Every system this request had stopped was told that it may use your data again"
    ),
}


def history(request: DataSubjectRequest) -> list[HistoryEntry]:
    """Return what happened to the request, in plain words, oldest first."""
    entries: list[HistoryEntry] = []
    states_seen: set[str] = set()
    events = (
        AuditEvent.objects.filter(scope=scope_of(request))
        .order_by("seq")
        .only("occurred_at", "action", "after", "reason")
    )
    for event in events:
        if event.reason == "email_confirmed_knowledge_unmatched":
            # Confirmed, and held for a check by hand: the confirmation is no state of its own.
            entries.append(HistoryEntry(event.occurred_at, str(_("E-mail address confirmed"))))
        if event.action == "dsr.request.state_changed":
            state = (event.after or {}).get("state", "")
            if event.reason == "cancelled_for_person":
                entries.append(HistoryEntry(event.occurred_at, _("Cancelled by us, as you asked")))
            elif state == State.VERIFIED and event.reason == "email_confirmed":
                # What the person did: the same words whatever the request (an objection's
                # confirmation is no more a check of who they are than an access request's).
                entries.append(HistoryEntry(event.occurred_at, _("E-mail address confirmed")))
            elif state == State.RUNNING and state in states_seen:
                # Back to work after our team's step or a retry: not a second start.
                entries.append(HistoryEntry(event.occurred_at, _("In progress again")))
            elif state in State.values:
                entries.append(HistoryEntry(event.occurred_at, str(State(state).label)))
            states_seen.add(state)
        elif event.action in _ACTION_TEXT:
            entries.append(HistoryEntry(event.occurred_at, str(_ACTION_TEXT[event.action](event))))
    return entries
