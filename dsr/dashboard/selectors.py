"""Reads for the dashboard's queue and request pages, each in a bounded number of queries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import User
from privacy_portal.audit.models import AuditEvent
from privacy_portal.audit.services import scope_of
from privacy_portal.permissions import COMPLIANCE_GROUP

from ..engine import tasks_done
from ..identity import account_name_differs
from ..models import (
    OPEN_STATES,
    Action,
    Channel,
    DataStore,
    DataSubjectRequest,
    ErasureRecord,
    ExportPackage,
    RequestNote,
    State,
    StoreTask,
    TaskState,
)
from ..notifications import retention_entry
from ..packages import package_is_available
from ..services import CANCELLABLE, filed_signed_in, restriction_may_be_lifted
from ..texts import store_entity_name
from .forms import SORTS, STATUS_ALL, STATUS_OPEN
from .labels import ERROR_DETAILS, detail_label, reason_label, state_label

#: Requests due within this many days are highlighted.
DUE_SOON_DAYS = 7
_OPEN = [s.value for s in OPEN_STATES]


# --- the queue ----------------------------------------------------------------------------------


def officers() -> list[tuple[int, str]]:
    """Return the staff who handle requests (compliance officers and superusers), by name."""
    people = (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(Q(groups__name=COMPLIANCE_GROUP) | Q(is_superuser=True))
        .distinct()
        .order_by("first_name", "last_name", "email")
        .only("pk", "first_name", "last_name", "email")
    )
    return [(person.pk, staff_name(person)) for person in people]


def staff_name(user: Any) -> str:
    name = f"{user.first_name} {user.last_name}".strip()
    return name or user.email


def request_references(events: Iterable[AuditEvent]) -> dict[str, str]:
    """The reference of each request the ``events`` are about, by their scope
    ("dsr.datasubjectrequest:89"), in one query."""
    prefix = "dsr.datasubjectrequest:"
    ids = {
        int(event.scope.removeprefix(prefix))
        for event in events
        if (event.scope or "").startswith(prefix) and event.scope.removeprefix(prefix).isdigit()
    }
    if not ids:
        return {}
    return {
        f"{prefix}{pk}": reference
        for pk, reference in DataSubjectRequest.objects.filter(pk__in=ids).values_list(
            "pk", "reference"
        )
    }


def staff_names(events: Iterable[AuditEvent]) -> dict[int, str]:
    """The names of the staff who acted in ``events`` or were assigned a request by them, by
    account id (one query): staff are named in the timeline and the audit trail, other people
    by their number."""
    events = list(events)
    actors = {e.actor_id for e in events if e.actor_type == "person" and e.actor_id}
    return _staff_by_id(actors | assignees_in(events))


def _staff_by_id(ids: Iterable[Any]) -> dict[int, str]:
    ids = {pk for pk in ids if isinstance(pk, int)}
    if not ids:
        return {}
    return {
        user.pk: staff_name(user)
        for user in User.objects.filter(pk__in=ids, is_staff=True).only(
            "pk", "first_name", "last_name", "email"
        )
    }


@dataclass(frozen=True)
class Change:
    """One field of an audit event's change in words: what it was, where the event recorded
    that, and what it became (None where the event does not say)."""

    label: str
    before: str | None
    after: str | None
    #: The field as the event stores it.
    key: str = ""

    def __str__(self) -> str:
        after = "—" if self.after is None else self.after
        return (
            f"{self.label}: {after}"
            if self.before is None
            else (f"{self.label}: {self.before} → {after}")
        )


def assignees_in(events: Iterable[AuditEvent]) -> set[Any]:
    """The staff ``events`` assigned a request to or took it from, by account id."""
    return {(side or {}).get("assignee_id") for e in events for side in (e.before, e.after)}


def changes_said(
    events: Iterable[AuditEvent], *, staff: Mapping[int, str] | None = None
) -> dict[int, list[Change]]:
    """Each event's recorded change in words, in the reader's language, by the event's id:
    stores, requests and staff by their names (three queries at most; the trail keeps ids).
    ``staff``: the names of the staff the events assign, when the caller has read them."""
    events = list(events)
    stores, references = _named_in(events)
    if staff is None:
        staff = _staff_by_id(assignees_in(events))
    said = {}
    for event in events:
        before, after = event.before or {}, event.after or {}
        said[event.pk] = [
            Change(
                label=detail_label(key, None)[0],
                before=_value_said(key, before[key], stores, references, staff)
                if key in before
                else None,
                after=_value_said(key, after[key], stores, references, staff)
                if key in after
                else None,
                key=key,
            )
            for key in [*before, *(key for key in after if key not in before)]
        ]
    return said


def _value_said(
    key: str,
    value: Any,
    stores: Mapping[int, str],
    references: Mapping[int, str],
    staff: Mapping[int, str],
) -> str:
    if value is None:
        return "—"
    if key == "assignee_id":
        return staff.get(value, str(value))
    if isinstance(value, Mapping) and key not in ERROR_DETAILS:
        return ", ".join(f"{name}: {_plain(item)}" for name, item in value.items())
    return detail_label(key, _named(key, value, stores, references))[1]


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def _named_in(events: list[AuditEvent]) -> tuple[dict[int, str], dict[int, str]]:
    """The stores and the other requests ``events`` name, by id: their names and references
    (a query for each kind named)."""
    stores = _store_names(set().union(*(_event_store_ids(e) for e in events)))
    originals = {(e.after or {}).get("duplicate_of") for e in events}
    return stores, _references({pk for pk in originals if isinstance(pk, int)})


def _store_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {s.pk: s.display_name() for s in DataStore.objects.filter(pk__in=ids)}


def _references(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(DataSubjectRequest.objects.filter(pk__in=ids).values_list("pk", "reference"))


def queue(filters: Mapping[str, Any], *, me: Any) -> QuerySet[DataSubjectRequest]:
    """Return the requests matching the queue's ``filters``, sorted, ready for one page."""
    now = timezone.now()
    queryset = DataSubjectRequest.objects.all()
    status = filters.get("status") or STATUS_OPEN
    if status == STATUS_OPEN:
        queryset = queryset.filter(state__in=_OPEN)
    elif status != STATUS_ALL:
        queryset = queryset.filter(state=status)
    for name in ("type", "regime", "channel"):
        if filters.get(name):
            queryset = queryset.filter(**{name: filters[name]})
    due = filters.get("due")
    if due:
        # A clock paused while the identity is awaited (UK GDPR) runs toward no deadline.
        queryset = queryset.filter(state__in=_OPEN, clock_paused_at__isnull=True)
        if due == "overdue":
            queryset = queryset.filter(due_at__lt=now)
        else:
            days = DUE_SOON_DAYS if due == "7d" else 30
            queryset = queryset.filter(due_at__gte=now, due_at__lt=now + timedelta(days=days))
    assignee = filters.get("assignee")
    if assignee == "me":
        queryset = queryset.filter(assignee=me)
    elif assignee == "none":
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee and str(assignee).isdecimal():
        queryset = queryset.filter(assignee_id=int(assignee))
    failed = StoreTask.objects.filter(request=OuterRef("pk"), state=TaskState.FAILED)
    if filters.get("failed"):
        queryset = queryset.filter(Exists(failed))
    if filters.get("q"):
        term = str(filters["q"]).strip().upper()
        queryset = queryset.filter(
            Q(reference=term) | Q(reference__endswith=term) if term.isdigit() else Q(reference=term)
        )
    if filters.get("person"):
        queryset = queryset.filter(subject_key=filters["person"])
    if "name_term" in filters:
        # Each word in the name given with the request, or in the account's (not once the
        # request's record was redacted, nor for a term the session no longer keeps), in any
        # case and with or without its accents.
        words = str(filters["name_term"]).split()[:5]
        if not words:
            queryset = queryset.none()
        for word in words:
            queryset = queryset.filter(
                Q(full_name__unaccent__icontains=word)
                | Q(user__first_name__unaccent__icontains=word)
                | Q(user__last_name__unaccent__icontains=word)
            )
    sort = SORTS.get(filters.get("sort") or "", None)
    if sort is None:
        sort = SORTS["due"] if status == STATUS_OPEN or due else SORTS["-received"]
    return (
        queryset.select_related("assignee")
        .annotate(has_failed=Exists(failed))
        .only(
            "pk",
            "reference",
            "type",
            "state",
            "regime",
            "channel",
            "received_at",
            "due_at",
            "extended_at",
            "clock_paused_at",
            "held_reason",
            "assignee__first_name",
            "assignee__last_name",
            "assignee__email",
        )
        .order_by(*sort)
    )


@dataclass(frozen=True)
class QueueCounts:
    by_state: dict[str, int]
    open: int
    overdue: int
    due_soon: int
    failed: int


def queue_counts() -> QueueCounts:
    """Return how many requests are in each state, and how many open ones are overdue, due
    within a week, or have a failed store task (three aggregate queries)."""
    now = timezone.now()
    by_state = dict(
        DataSubjectRequest.objects.order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    urgent = DataSubjectRequest.objects.filter(
        state__in=_OPEN, clock_paused_at__isnull=True
    ).aggregate(
        overdue=Count("pk", filter=Q(due_at__lt=now)),
        due_soon=Count(
            "pk", filter=Q(due_at__gte=now, due_at__lt=now + timedelta(days=DUE_SOON_DAYS))
        ),
    )
    failed = (
        StoreTask.objects.filter(state=TaskState.FAILED, request__state__in=_OPEN)
        .values("request_id")
        .distinct()
        .count()
    )
    return QueueCounts(
        by_state={state: by_state.get(state, 0) for state in State.values},
        open=sum(by_state.get(state, 0) for state in _OPEN),
        overdue=urgent["overdue"],
        due_soon=urgent["due_soon"],
        failed=failed,
    )


def urgency(request: DataSubjectRequest, now: datetime | None = None) -> str:
    """Return "overdue", "soon" (due within a week), "paused" (the clock stopped while the
    identity is awaited) or "" for an open request."""
    if request.state not in _OPEN:
        return ""
    if request.clock_paused_at is not None:
        return "paused"
    now = now or timezone.now()
    if request.due_at < now:
        return "overdue"
    if request.due_at < now + timedelta(days=DUE_SOON_DAYS):
        return "soon"
    return ""


# --- one request --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRow:
    task: StoreTask
    found: int | None
    exported: int | None
    erased: int | None
    retained: int | None
    remaining: int | None
    retained_detail: list[dict[str, Any]]
    receipt_json: str


def _total(receipt: Mapping[str, Any], key: str) -> int | None:
    values = receipt.get(key)
    if not isinstance(values, Mapping):
        return None
    return sum(int(n) for n in values.values() if isinstance(n, int))


def task_row(task: StoreTask) -> TaskRow:
    """Summarise a store task's receipt: records found, exported, erased (deleted or
    anonymised), retained, and left after the erasure's check."""
    receipt = task.receipt or {}
    counts = _total(receipt, "counts")
    deleted = _total(receipt, "deleted")
    anonymised = _total(receipt, "anonymised")
    kept = [item for item in receipt.get("retained") or [] if isinstance(item, Mapping)]
    retained = sum(int(item.get("count") or 0) for item in kept) if "retained" in receipt else None
    erased = None if deleted is None and anonymised is None else (deleted or 0) + (anonymised or 0)
    found = counts
    # Records made anonymous and then kept are the same records: counted once, as kept (with
    # "made anonymous" beside them), so that erased and retained add up to found.
    made_anonymous = receipt.get("anonymised") or {}
    kept_entities = {item.get("entity") for item in kept}
    if found is None and erased is not None:
        found = erased + sum(
            int(item.get("count") or 0) for item in kept if item.get("entity") not in made_anonymous
        )
    if erased is not None and isinstance(made_anonymous, Mapping):
        erased -= sum(
            int(n)
            for entity, n in made_anonymous.items()
            if entity in kept_entities and isinstance(n, int)
        )
    exported = counts
    if task.action == "export" and counts is None and receipt.get("manual"):
        # A copy step done by staff: the files they attached, or none found.
        exported = 0 if receipt.get("nothing_held") else receipt.get("files")
        found = exported
    return TaskRow(
        task=task,
        found=found,
        exported=exported if task.action == "export" else None,
        erased=erased,
        retained=retained,
        remaining=_total(receipt, "remaining"),
        retained_detail=[
            retention_entry(item, anonymised=made_anonymous, store=task.store, for_staff=True)
            for item in kept
        ],
        receipt_json=json.dumps(receipt, indent=2, sort_keys=True, ensure_ascii=False),
    )


@dataclass(frozen=True)
class TimelineEntry:
    event: AuditEvent
    actor: str
    text: str
    detail: str
    reason: str = ""


_ACTIONS = {
    "dsr.request.received": lambda: _("Request received"),
    "dsr.request.planned": lambda: _("Store tasks planned"),
    "dsr.request.recipients_planned": lambda: _("Recipients' steps planned"),
    "dsr.request.extended": lambda: _("Deadline extended"),
    "dsr.request.assigned": lambda: _("Assignment changed"),
    "dsr.request.identity_verified": lambda: _("Identity checked by staff"),
    "dsr.request.corrected_in_admin": lambda: _("Corrected in the admin"),
    "dsr.request.linked_to_account": lambda: _("Linked to the customer's account"),
    "dsr.request.verification_reminded": lambda: _("Reminder to confirm the e-mail sent"),
    "dsr.request.note_added": lambda: _("Internal note added"),
    "dsr.request.previewed": lambda: _("Erasure preview run"),
    "dsr.request.link_resent": lambda: _("Download link sent again"),
    "dsr.request.answered_without_failed": lambda: _("Answered without the failed step"),
    "dsr.request.verification_resent": lambda: _("Confirmation link sent again"),
    "dsr.request.redacted": lambda: _("Request record redacted"),
    "dsr.task.succeeded": lambda: _("Store task done"),
    "dsr.task.failed": lambda: _("Store task failed"),
    "dsr.task.retrying": lambda: _("Store task will be retried"),
    "dsr.task.waiting": lambda: _("Store task waiting"),
    "dsr.task.retried": lambda: _("Store task retried by staff"),
    "dsr.task.skipped": lambda: _("Store task skipped"),
    "dsr.task.requeued": lambda: _("Store task queued again"),
    "dsr.callback.refused": lambda: _("A store's answer was refused"),
    "admin.added": lambda: _("Recorded by staff in the admin"),
    "dsr.task.completed_by_staff": lambda: _("Manual step marked done"),
    "dsr.package.built": lambda: _("Package built"),
    "dsr.package.downloaded": lambda: _("Package downloaded"),
    "dsr.package.purged": lambda: _("Package deleted after expiry"),
    "dsr.erasure.recorded": lambda: _("Erasure record signed"),
    "dsr.restriction.lift_started": lambda: _("Person told; restriction being lifted"),
    "dsr.restriction.lifted": lambda: _("Restriction lifted in every store"),
    "dsr.objection.lift_started": lambda: _(
        "The person switched the use on again; the stores' marks being lifted"
    ),
    "dsr.objection.lifted": lambda: _("The stores' marks lifted in every store"),
    # The rest of the trail, for the audit page (the request's timeline shows the above).
    "dsr.request.state_changed": lambda: _("Request state changed"),
    "dsr.store.checked": lambda: _("Store checked"),
    "dsr.erasure.reapplied": lambda: _("Erasure applied again after a restore"),
    "admin.changed": lambda: _("Changed by staff in the admin"),
    "admin.deleted": lambda: _("Deleted by staff in the admin"),
    "retention.store.applied": lambda: _("Retention rule applied to a store"),
    "retention.job.ran": lambda: _("Retention run"),
    "crypto.keys_rotated": lambda: _("Encryption keys rotated"),
    "consent.recorded": lambda: _("Choice recorded"),
    "consent.subject.pseudonymised": lambda: _("Choices detached from the person"),
    "consent.purpose.new_version": lambda: _("New text of a use of data"),
    "consent.policy.published": lambda: _("Policy published"),
    "consent.number_suppressed": lambda: _("Phone number put on the do-not-contact list"),
    "consent.ledger.exported": lambda: _("Consent ledger exported"),
    "consent.api.token_issued": lambda: _("API token issued"),
    "consent.api.token_revoked": lambda: _("API token revoked"),
    "consent.webhook.secret_rotated": lambda: _("Webhook secret rotated"),
    "audit.exported": lambda: _("Audit trail exported"),
    "audit.chain.verify_requested": lambda: _("Audit chain check asked for"),
    "audit.chain.verified": lambda: _("Audit chain checked"),
    "account.signed_up": lambda: _("Account opened"),
    "account.logged_in": lambda: _("Signed in"),
    "account.reauthenticated": lambda: _("Password confirmed again"),
    "account.sessions.ended": lambda: _("Other sessions ended"),
    "account.profile.updated": lambda: _("Profile changed"),
    "account.password.changed": lambda: _("Password changed"),
    "account.email.added": lambda: _("E-mail address added"),
    "account.email.confirmed": lambda: _("E-mail address confirmed"),
    "account.email.changed": lambda: _("E-mail address changed"),
    "account.email.removed": lambda: _("E-mail address removed"),
    "account.address_released": lambda: _("Earlier e-mail address released"),
    "account.closed": lambda: _("Account closed"),
}


def action_text(action: str) -> str:
    """Return a plain label for an audit action code (the code itself if unknown)."""
    label = _ACTIONS.get(action)
    return str(label()) if label else action


def _by_a_guest(request: DataSubjectRequest, event: AuditEvent) -> bool:
    """Whether ``event`` is the person's own doing on a request filed without signing in
    (recorded without an account to name): filing it, confirming it from the e-mail."""
    if request.channel != Channel.PORTAL_GUEST:
        return False
    return event.action == "dsr.request.received" or event.reason.startswith("email_confirmed")


def _event_store_ids(event: AuditEvent) -> set[int]:
    """The stores an event's details name: its step's, or those of the steps it planned."""
    after = event.after or {}
    named = [
        after.get("store"),
        *(after.get("unreached") or []),
        *(after.get("stores") or []),
        *(after.get("stores_left") or []),
        *(
            planned[0]
            for planned in after.get("tasks") or []
            if isinstance(planned, list) and planned
        ),
    ]
    return {store for store in named if isinstance(store, int)}


def _named(key: str, value: Any, stores: Mapping[int, str], references: Mapping[int, str]) -> Any:
    """A store's id in an event's details as the store's name, each step an approval planned
    as its store and action, and another request by its reference."""
    if key == "store":
        return stores.get(value, value)
    if key == "duplicate_of":
        return references.get(value, value)
    if key in ("unreached", "stores", "stores_left") and isinstance(value, list):
        return ", ".join(str(stores.get(store, store)) for store in value)
    if key == "tasks" and isinstance(value, list):
        return "; ".join(
            f"{stores.get(store, store)} ({detail_label('action', action)[1]})"
            for store, action in (p for p in value if isinstance(p, list) and len(p) == 2)
        )
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return value


def timeline(request: DataSubjectRequest) -> list[TimelineEntry]:
    """Return every audit event of the request, oldest first, with who acted and the stores
    its steps were about by name (three queries; a fourth for a duplicate's original)."""
    events = list(AuditEvent.objects.filter(scope=scope_of(request)).order_by("seq"))
    staff = staff_names(events)
    said = changes_said(events, staff=staff)
    filed_by = next((e.actor_id for e in events if e.action == "dsr.request.received"), None)
    entries = []
    for event in events:
        if event.actor_type == "system" and _by_a_guest(request, event):
            actor = _("The person")
        elif event.actor_type == "system":
            actor = _("System")
        elif event.actor_type == "api":
            actor = _("API client %(id)s") % {"id": event.actor_id}
        elif event.actor_id is not None and event.actor_id == request.user_id:
            actor = _("The person")
        elif event.actor_id in staff:
            actor = staff[event.actor_id]
        elif event.actor_id is not None and event.actor_id == filed_by:
            # The person, signed in when they filed it, whose account their erasure deleted.
            actor = _("The person")
        else:
            actor = _("Person %(id)s") % {"id": event.actor_id}
        if event.action == "dsr.request.state_changed":
            text = "{} → {}".format(
                state_label(str((event.before or {}).get("state", ""))),
                state_label(str((event.after or {}).get("state", ""))),
            )
        else:
            text = action_text(event.action)
        if event.action == "dsr.request.received" and (
            timezone.localdate(request.received_at) != timezone.localdate(event.occurred_at)
        ):
            # Recorded by staff after it reached Inper: the deadline counts from that day.
            text = _("Request recorded; it was received on %(day)s") % {
                "day": date_format(timezone.localtime(request.received_at), "DATE_FORMAT")
            }
        after = event.after or {}
        detail = " · ".join(
            str(change)
            for change in said[event.pk]
            if change.key not in ("state", "note")  # a state in the text; a note's number
            # An empty new value says something only where it replaced one ("— " alone not).
            and (
                change.key not in after
                or after[change.key] not in (None, "", [], {})
                or change.before not in (None, "—")
            )
            # The reason says how it ended ("done — Outcome: Done" said it twice; a part
            # answer's outcome, "done", would say too much).
            and not (change.key == "outcome" and event.reason in (after["outcome"], "partly_done"))
        )
        entries.append(
            TimelineEntry(event, str(actor), text, detail, reason_label(event.reason or ""))
        )
    return entries


@dataclass
class RequestPage:
    """Everything the request page shows, and which actions its state allows."""

    request: DataSubjectRequest
    tasks: list[TaskRow]
    notes: list[RequestNote]
    timeline: list[TimelineEntry]
    package: ExportPackage | None
    package_available: bool
    erasure_record: ErasureRecord | None
    urgency: str
    can: dict[str, bool] = field(default_factory=dict)
    #: The uses of their data the person objected to or withdrew from, by their titles.
    purposes: list[str] = field(default_factory=list)
    #: The language the person is written to in, by its name.
    language: str = ""
    #: Whether the person gave an order number to match (an identity hold says which).
    order_number_given: bool = False
    #: Later requests of the person linked to this one, answered with it: what each asked
    #: (a second correction may say something else) is read here.
    duplicates: list[DataSubjectRequest] = field(default_factory=list)
    #: Why the deadline of an open request cannot be extended ("" if it can, or need not).
    extend_refusal: str = ""
    #: A step failed while others wait for staff: the answer without it must wait for them.
    failed_behind_manual: bool = False
    #: The account holder's name, where the name given with the request is not theirs.
    account_name_differs: str = ""

    @property
    def identity_checked_by(self) -> str:
        """Who on the staff checked the person's identity by hand: the last to confirm it on
        the dashboard, or the one who recorded the request with the check ("" for none)."""
        for entry in reversed(self.timeline):
            event = entry.event
            if event.action == "dsr.request.identity_verified" or (
                event.reason == "identity_verified_by_staff"
            ):
                return entry.actor
        request = self.request
        if request.identity_method.startswith("staff_") and request.recorded_by is not None:
            return staff_name(request.recorded_by)
        return ""

    @property
    def duplicates_checked(self) -> list[tuple[DataSubjectRequest, bool]]:
        """Each linked request, and whether it is known to come from the person: filed signed
        in, or recorded by staff with how they checked. One filed with the address alone was
        never confirmed (a duplicate asks for no link): anyone may have typed it."""
        return [
            (duplicate, bool(duplicate.identity_method) or filed_signed_in(duplicate))
            for duplicate in self.duplicates
        ]


def _purpose_titles(keys: list[str] | None) -> list[str]:
    """Return the titles of the purposes ``keys`` names (a key no longer known as itself)."""
    if not keys:
        return []
    from ..consent_bridge import purpose_choices

    titles = dict(purpose_choices())
    return [str(titles.get(key, key)) for key in keys]


def request_page(reference: str) -> RequestPage | None:
    """Return the request page's content, or None if no request has this reference."""
    request = (
        DataSubjectRequest.objects.select_related(
            "user",
            "assignee",
            "approved_by",
            "recorded_by",
            "duplicate_of",
            "restriction_lifted_by",
        )
        .filter(reference=reference)
        .first()
    )
    if request is None:
        return None
    tasks = [
        task_row(task)
        for task in request.tasks.select_related("store", "completed_by").order_by(
            "store__position", "store__name", "action"
        )
    ]
    package = ExportPackage.objects.filter(request=request).first()
    record = (
        ErasureRecord.objects.filter(reference=request.reference).first()
        if request.type == "erasure"
        else None
    )
    state = request.state
    identity_held = request.held_reason == "identity_needs_review"
    page = RequestPage(
        request=request,
        tasks=tasks,
        notes=list(request.notes.select_related("author")),
        timeline=timeline(request),
        package=package,
        package_available=package is not None and package_is_available(package),
        erasure_record=record,
        urgency=urgency(request),
        purposes=_purpose_titles(request.purposes),
        language=str(dict(settings.LANGUAGES).get(request.language, request.language)),
        order_number_given=identity_held and bool(request.snapshot().get("order_numbers")),
        duplicates=list(
            DataSubjectRequest.objects.filter(duplicate_of=request)
            .only(
                "reference",
                "received_at",
                "channel",
                "details",
                "full_name",
                "purposes",
                "redacted_at",
                "identity_method",
                "user_id",
            )
            .order_by("received_at")
        ),
    )
    held_by_failure = (
        state == State.WAITING
        and request.failed_steps_accepted_at is None
        and any(row.task.state == TaskState.FAILED for row in page.tasks)
    )
    page.can = {
        "verify": request.redacted_at is None
        and (
            state in (State.RECEIVED, State.AWAITING_IDENTITY)
            or (state == State.IN_REVIEW and (identity_held or request.verified_at is None))
        ),
        "approve": state in (State.VERIFIED, State.IN_REVIEW)
        and request.verified_at is not None
        and not identity_held,
        "reject": state
        in (State.RECEIVED, State.AWAITING_IDENTITY, State.VERIFIED, State.IN_REVIEW),
        "extend": request.is_open
        and request.address_confirmed
        and request.extended_at is None
        and timezone.now() <= request.due_at,
        "cancel": state in CANCELLABLE,
        "preview": request.type == "erasure"
        and state in (State.VERIFIED, State.IN_REVIEW)
        and bool(request.subject_snapshot),
        "retry": state in (State.RUNNING, State.WAITING, State.PARTIALLY_COMPLETED)
        or (state == State.COMPLETED and request.restriction_lifting),  # a lift's steps
        "lift": restriction_may_be_lifted(request),
        # Held by a step that failed for good, with nothing else left to do.
        "answer_without_failed": held_by_failure
        and all(row.task.done for row in page.tasks if row.task.action != Action.LIFT),
        "resend": page.package_available and state not in (State.REJECTED, State.CANCELLED),
        "resend_confirmation": state == State.AWAITING_IDENTITY
        and bool(request.verification_nonce),
        "note": request.redacted_at is None,
        "terminal": request.settled,
    }
    # A step failed, but steps waiting for staff keep the answer-without-it back.
    page.failed_behind_manual = held_by_failure and not page.can["answer_without_failed"]
    if request.redacted_at is None:
        page.account_name_differs = account_name_differs(request)
    # Why an open request the officer might want more time for cannot have it.
    if request.is_open and request.address_confirmed and not page.can["extend"]:
        page.extend_refusal = (
            _("The deadline was already extended once; it cannot be extended again.")
            if request.extended_at is not None
            else _(
                "The deadline has passed, so it can no longer be extended: answer the person "
                "as soon as possible."
            )
        )
    return page


def progress(request: DataSubjectRequest) -> dict[str, Any]:
    """Return the request's state and task progress, for the page to follow it live."""
    done, total = tasks_done(request)
    return {
        "state": request.state,
        # In staff words, as the page's badge says it (the model's speak to the person).
        "state_label": state_label(request.state),
        "done": done,
        "total": total,
        "terminal": request.settled,
    }


@dataclass(frozen=True)
class StoreRun:
    """What a retention run did in one store, in the reader's language: the store and its
    entities by name ("Addresses: 3 deleted"), as the report stores them by key."""

    name: str
    state: str
    stated_rule: bool
    error: Any
    deleted: list[tuple[str, int]]
    anonymised: list[tuple[str, int]]


def retention_stores_said(runs: Iterable[Any]) -> list[list[StoreRun]]:
    """Each retention run's stores, named now in the reader's language (one query): the
    report keeps the store's key and its name of the day of the run, for a store since
    removed."""
    runs = list(runs)
    reports = [(run.report or {}).get("stores") or {} for run in runs]
    keys = {key for report in reports for key in report}
    stores = {store.key: store for store in DataStore.objects.filter(key__in=keys)} if keys else {}
    said = []
    for report in reports:
        lines = []
        for key, entry in report.items():
            store = stores.get(key)

            def named(counts: Any, store: DataStore | None = store) -> list[tuple[str, int]]:
                return [
                    (store_entity_name(store, entity, for_staff=True) if store else entity, n)
                    for entity, n in (counts or {}).items()
                ]

            lines.append(
                StoreRun(
                    name=store.display_name() if store else str(entry.get("name") or key),
                    state=str(entry.get("state", "")),
                    stated_rule=bool(entry.get("stated_rule")),
                    error=entry.get("error"),
                    deleted=named(entry.get("deleted")),
                    anonymised=named(entry.get("anonymised")),
                )
            )
        said.append(lines)
    return said
