"""The e-mails of the request workflow, in the person's language, sent when the transaction
that caused them commits. Staff e-mails carry references and links, never personal data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from privacy_portal.mail import send_email, send_email_on_commit
from privacy_portal.permissions import COMPLIANCE_GROUP

from .models import OPEN_STATES, Action, DataSubjectRequest, RequestType, StoreTask
from .texts import store_entity_name

VERIFY_SALT = "dsr.verify"
STATUS_SALT = "dsr.status"


def verification_token(request: DataSubjectRequest) -> str:
    return signing.dumps({"r": request.pk, "n": request.verification_nonce}, salt=VERIFY_SALT)


def status_token(request: DataSubjectRequest) -> str:
    """A link token that lets someone without an account follow their own request."""
    return signing.dumps({"r": request.pk}, salt=STATUS_SALT)


def _url(path: str) -> str:
    return f"{settings.PORTAL_BASE_URL}{path}"


def request_url(request: DataSubjectRequest) -> str:
    """Return the link the person follows their request at (signed for people without an
    account, or who closed theirs)."""
    path = reverse("dsr:detail", args=[request.reference])
    # An erasure ends by erasing the account: its e-mails' links must work once it is gone.
    if request.followed_by_link or request.type == RequestType.ERASURE:
        path += f"?t={status_token(request)}"
    return _url(path)


def first_name(request: DataSubjectRequest) -> str:
    """The name to greet the person by: the one typed with the request once someone proved the
    address is theirs, else their account's, else none.

    Anyone can file a request for any address, and an opt-out needs no proof: until the
    address is proven, the e-mail does not repeat the name typed with it (it could be a link
    or a message to a stranger). Nor does it when staff recorded it for an account whose
    holder has another name: the e-mail goes to the holder. (A guest's name is not compared:
    what a guest reads never depends on whether the address has an account.)"""
    from .identity import account_name_differs

    given = (request.full_name or "").split()
    if (
        request.identity_proven
        and given
        and not (request.recorded_by_id and account_name_differs(request))
    ):
        return given[0]
    if request.user_id is None:
        return ""
    return str(getattr(request.user, "first_name", "") or "")


def _person_context(request: DataSubjectRequest, **context: Any) -> dict[str, Any]:
    return {
        "request": request,
        "request_url": request_url(request),
        "first_name": first_name(request),
        **context,
    }


def _to_person(
    request: DataSubjectRequest,
    template: str,
    *,
    on_sent: Callable[[], None] | None = None,
    **context: Any,
) -> None:
    if not request.email:
        return
    send_email_on_commit(
        template=f"dsr/{template}",
        to=request.email,
        context=_person_context(request, **context),
        language=request.language,
        on_sent=on_sent,
    )


def _staff_of(group: str) -> list[tuple[str, str]]:
    """Return the address and language of each active staff member in ``group``."""
    from accounts.models import User

    return list(
        User.objects.filter(is_active=True, is_staff=True, groups__name=group)
        .values_list("email", "preferred_language")
        .distinct()
    )


def _officers() -> list[tuple[str, str]]:
    return _staff_of(COMPLIANCE_GROUP)


def _to_staff(recipients: list[tuple[str, str]], template: str, **context: Any) -> None:
    """E-mail each ``(address, language)``; labels in ``context`` stay lazy, so that each
    message names things in its recipient's language."""
    if "reference" in context:
        # Straight to the request the e-mail is about.
        context["request_url"] = _url(reverse("dashboard:request", args=[context["reference"]]))
    for address, language in recipients:
        send_email_on_commit(
            template=f"dsr/staff/{template}",
            to=address,
            context={"dashboard_url": _url("/dashboard/"), **context},
            language=language or settings.LANGUAGE_CODE,
        )


def _mark_acknowledged(request_id: int) -> None:
    """Record when the acknowledgement went out: the proof of the CCPA's acknowledgement
    within 10 business days (the portal's goes out at receipt)."""
    DataSubjectRequest.objects.filter(pk=request_id, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now()
    )


def acknowledged(request: DataSubjectRequest, *, link_follows: bool = False) -> None:
    """Acknowledge receipt; ``link_follows``: the next e-mail asks the person to confirm
    their address, and nothing happens until they do."""
    from .services import request_is_opt_out

    _to_person(
        request,
        "acknowledged",
        link_follows=link_follows,
        stopped=_stopped(request),
        whole_opt_out=request_is_opt_out(request),
        # Recorded by staff long after it arrived: its deadline may already have passed.
        overdue=request.due_at <= timezone.now(),
        on_sent=partial(_mark_acknowledged, request.pk),
    )


def _stopped(request: DataSubjectRequest) -> list[str]:
    """The titles of the direct marketing an opt-out stopped as it was filed, before any
    confirmation, in the person's language."""
    from .services import request_opt_out_part

    return _titles(request, request_opt_out_part(request))


def purpose_titles(request: DataSubjectRequest) -> list[str]:
    """The titles of the uses of data ``request`` names, in the person's language."""
    return _titles(request, request.purposes or ())


def _titles(request: DataSubjectRequest, keys: Iterable[str]) -> list[str]:
    """The titles of the purposes ``keys``, in the person's language."""
    from consent.catalogue import catalogue

    purposes = catalogue().by_key
    return [purposes[key].title(request.language) for key in sorted(keys) if key in purposes]


def duplicate_received(request: DataSubjectRequest) -> None:
    _to_person(
        request,
        "duplicate",
        original=request.duplicate_of,
        on_sent=partial(_mark_acknowledged, request.pk),
    )


def verification_link(
    request: DataSubjectRequest, *, reminder: bool = False, again: bool = False
) -> None:
    """E-mail the link that confirms the request: first, as the reminder, or ``again`` when
    staff send it once more (the same link: the e-mail then names the day it expires)."""
    link = _url(reverse("dsr:verify", args=[verification_token(request)]))
    sent = request.verification_sent_at or request.received_at
    _to_person(
        request,
        "verify",
        verify_url=link,
        reminder=reminder,
        dated=reminder or again,
        days=settings.DSR_VERIFICATION_DAYS,
        expires=sent + timedelta(days=settings.DSR_VERIFICATION_DAYS),
        # An objection to direct marketing took effect at once, before any confirmation.
        stopped=_stopped(request),
    )


#: Why a request is held for an officer, as the officer reads it (lazy: in their language).
HELD_REASONS = {
    "credentials_recently_changed": _("the account's password or e-mail address changed recently"),
    "identity_needs_review": _("no order number of the person's confirmed who they are: check it"),
}


def officers_review_needed(request: DataSubjectRequest) -> None:
    from .dashboard.labels import TYPE_LABELS  # the officers' words (lazy: in their language)

    _to_staff(
        _officers(),
        "review_needed",
        reference=request.reference,
        request_type=TYPE_LABELS[request.type],
        held=HELD_REASONS.get(request.held_reason, ""),
    )


def held_after_credentials_change(request: DataSubjectRequest) -> None:
    _to_person(request, "held")


def rejected(request: DataSubjectRequest) -> None:
    _to_person(request, "rejected")


def cancelled(request: DataSubjectRequest) -> None:
    """Staff cancelled the request as the person asked them."""
    _to_person(request, "cancelled", new_request_url=_url(reverse("dsr:new")))


def extended(request: DataSubjectRequest) -> None:
    _to_person(request, "extended")


def completed(request: DataSubjectRequest) -> None:
    """The request is answered (also sent again by staff, while the copy can be downloaded:
    the e-mail gives the day its download ends)."""
    from .models import ExportPackage

    package = (
        ExportPackage.objects.filter(request=request).only("expires_at").first()
        if request.type in (RequestType.ACCESS, RequestType.PORTABILITY)
        else None
    )
    _to_person(
        request,
        "completed",
        receipts=plain_receipts(request),
        package_days=settings.DSR_PACKAGE_DAYS,
        package_until=timezone.localtime(package.expires_at)
        if package and package.expires_at
        else None,
        # The account is gone with an erasure: the person's other open requests are followed
        # by their links from now on.
        still_open=_still_open(request) if request.type == RequestType.ERASURE else [],
        # An objection or a withdrawal: the uses of data it ended, by name.
        ended=_titles(request, request.purposes)
        if request.type in (RequestType.OBJECTION, RequestType.WITHDRAW_CONSENT)
        else [],
    )


def _still_open(request: DataSubjectRequest) -> list[tuple[StrOrPromise, str, str]]:
    """The person's other open requests: their type, reference and link (signed, once their
    account is gone)."""
    if not request.subject_key:
        return []
    others = (
        DataSubjectRequest.objects.filter(
            subject_key=request.subject_key, state__in=[s.value for s in OPEN_STATES]
        )
        .exclude(pk=request.pk)
        .order_by("received_at")
    )
    # The type's label stays lazy: the e-mail says it in the language it is written in.
    return [(RequestType(o.type).label, o.reference, request_url(o)) for o in others]


def account_deleted(request_id: int) -> None:
    """Tell the person that their erasure deleted their account while the rest of it goes on
    (its other systems, a step for staff): they can no longer sign in, and follow this and
    their other open requests by the links given. A request already answered said so in its
    completion e-mail."""
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if request is None or request.state not in OPEN_STATES:
        return
    _to_person(request, "account_deleted", still_open=_still_open(request))


def restriction_lift_notice(request: DataSubjectRequest) -> None:
    """Tell the person that their restriction is being lifted, and why (GDPR Art. 18(3): before
    it is). Sent now, not when the transaction commits: if it cannot be sent, the error stops
    the lift."""
    send_email(
        template="dsr/restriction_lift",
        to=request.email,
        context=_person_context(request),
        language=request.language,
    )


def task_failed(task: StoreTask) -> None:
    _to_staff(
        _officers(),
        "task_failed",
        reference=task.request.reference,
        store=_store_name(task),
        action=Action(task.action).label,
        # The person's answer waits for it (a lift's step: the lift, already told of).
        holds_answer=task.action != Action.LIFT,
    )


def manual_task_waiting(task: StoreTask) -> None:
    group = task.assigned_group or COMPLIANCE_GROUP
    _to_staff(
        _staff_of(group),
        "manual_task",
        # Officers open the request itself; another group's staff their list of steps.
        for_officers=group == COMPLIANCE_GROUP,
        reference=task.request.reference,
        store=_store_name(task),
        action=Action(task.action).label,
    )


def _store_name(task: StoreTask) -> StrOrPromise:
    """The store's name in each recipient's language (evaluated as their e-mail renders)."""
    return lazy(task.store.display_name, str)()


def due_soon(requests: list[DataSubjectRequest], *, now: datetime) -> None:
    """Tell the officers of ``requests``: those past their deadline at ``now``, and those
    due within a week."""
    if requests:
        _to_staff(
            _officers(),
            "due_soon",
            overdue=[(r.reference, r.due_at) for r in requests if r.due_at < now],
            references=[(r.reference, r.due_at) for r in requests if r.due_at >= now],
        )


def plain_receipts(request: DataSubjectRequest) -> list[dict[str, Any]]:
    """Summarise what each store did, for the completion e-mail and the request's page
    (counts, no data)."""
    rows = []
    for task in request.tasks.select_related("store").order_by("store__position"):
        receipt = task.receipt or {}
        rows.append(
            {
                "store": task.store.display_name(request.language),
                "action": task.action,
                "state": task.state,
                "deleted": sum((receipt.get("deleted") or {}).values()),
                "anonymised": sum((receipt.get("anonymised") or {}).values()),
                "retained": [
                    retention_entry(
                        kept,
                        anonymised=receipt.get("anonymised") or {},
                        store=task.store,
                        language=request.language,
                    )
                    for kept in receipt.get("retained") or []
                ],
                "corrected": sum((receipt.get("counts") or {}).values()),
                "manual": bool(receipt.get("manual")),
                # Staff searched the system by hand and found nothing about the person.
                "nothing_held": bool(receipt.get("manual") and receipt.get("nothing_held")),
                "request_type": request.type,
            }
        )
    return rows


def retention_entry(
    kept: Mapping[str, Any],
    *,
    anonymised: Mapping[str, Any],
    store: Any,
    language: str | None = None,
    for_staff: bool = False,
) -> dict[str, Any]:
    """A kept record's entry of ``store``'s receipt with what is kept by name ("orders", in
    ``language``, the active one by default), its dates as dates (the e-mail writes them the
    person's way); whether ``until`` is only the latest of their dates (some go earlier, or
    the receipt does not say); and whether its records are those the store made anonymous
    (kept without what identifies the person: counted once, not as more records)."""
    until, first_until = _date(kept.get("until")), _date(kept.get("first_until"))
    return {
        **kept,
        "name": store_entity_name(
            store, str(kept.get("entity") or ""), language, for_staff=for_staff
        ),
        "until": until,
        "first_until": first_until,
        "at_the_latest": int(kept.get("count") or 0) > 1 and first_until != until,
        "anonymised": kept.get("entity") in anonymised,
    }


def _date(value: Any) -> Any:
    """Return a receipt's ISO date (or date and time) as a date, else as it is."""
    if isinstance(value, str) and value:
        return parse_date(value) or (parse_datetime(value) or value)
    return value
