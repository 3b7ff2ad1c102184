"""Every change to a data-subject request goes through this module.

One function, :func:`dsr_request_transition`, moves a request between states: it locks the
row, checks the table of allowed transitions and writes the audit event in the same
transaction (:func:`transition_locked` is its second half, for callers that hold the lock).
The other services (intake, verification, approval, rejection, extension, cancellation,
retries, manual steps) are built on it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.validators import normalise_line_breaks
from privacy_portal.audit.services import audit_record
from privacy_portal.pseudonymise import email_hash, normalise_email

from . import deadlines, notifications
from .connectors.base import Subject
from .models import (
    LIFTABLE_STATES,
    OPEN_STATES,
    TASK_DONE_STATES,
    Action,
    Channel,
    DataStore,
    DataSubjectRequest,
    ExportPackage,
    IdentityMethod,
    RejectionReason,
    RequestType,
    State,
    StoreTask,
    TaskState,
)

TRANSITIONS: dict[str, frozenset[str]] = {
    State.RECEIVED: frozenset(
        {
            State.AWAITING_IDENTITY,
            State.VERIFIED,
            State.IN_REVIEW,
            State.DUPLICATE,
            State.REJECTED,
            State.CANCELLED,
        }
    ),
    State.AWAITING_IDENTITY: frozenset(
        {
            State.VERIFIED,
            State.IN_REVIEW,
            State.CLOSED_UNVERIFIED,
            State.CANCELLED,
            State.REJECTED,
            State.DUPLICATE,
        }
    ),
    State.VERIFIED: frozenset({State.IN_REVIEW, State.APPROVED, State.CANCELLED, State.REJECTED}),
    # A duplicate: a guest's request held for an identity check, which the account holder's
    # own request replaces (_held_behind_a_guest).
    State.IN_REVIEW: frozenset({State.APPROVED, State.REJECTED, State.CANCELLED, State.DUPLICATE}),
    State.APPROVED: frozenset({State.RUNNING, State.COMPLETED}),
    State.RUNNING: frozenset({State.WAITING, State.COMPLETED, State.PARTIALLY_COMPLETED}),
    State.WAITING: frozenset({State.RUNNING, State.COMPLETED, State.PARTIALLY_COMPLETED}),
    State.PARTIALLY_COMPLETED: frozenset({State.RUNNING, State.COMPLETED}),
}

#: States in which the person may still cancel (nothing has run yet).
CANCELLABLE = frozenset({State.RECEIVED, State.AWAITING_IDENTITY, State.VERIFIED, State.IN_REVIEW})
#: Request types for which someone without an account must also match an order number.
KNOWLEDGE_TYPES = frozenset({RequestType.ACCESS, RequestType.PORTABILITY, RequestType.ERASURE})
#: What each request type asks of each store.
PLAN: dict[str, tuple[str, ...]] = {
    RequestType.ACCESS: (Action.EXPORT,),
    RequestType.PORTABILITY: (Action.EXPORT,),
    RequestType.ERASURE: (Action.ERASE,),
    RequestType.RESTRICTION: (Action.RESTRICT,),
    RequestType.RECTIFICATION: (Action.RECTIFY,),
    RequestType.OBJECTION: (),
    RequestType.WITHDRAW_CONSENT: (),
}
#: Types whose recipients are told afterwards (GDPR Art. 19).
NOTIFY_RECIPIENTS = frozenset(
    {RequestType.ERASURE, RequestType.RECTIFICATION, RequestType.RESTRICTION}
)


class TransitionError(Exception):
    """The request's state does not allow this; the message is shown to the person acting."""


class LiftNoticeError(Exception):
    """The e-mail that must tell the person before their restriction is lifted could not be
    sent, so nothing was lifted; the message is shown to the officer."""


def _state_label(state: str) -> str:
    """The state as officers read it on their pages (a refused change of state is theirs to
    read: "Running", where the person reads "In progress")."""
    from .dashboard.labels import state_label

    return str(state_label(state))


@transaction.atomic
def dsr_request_transition(
    *,
    request: DataSubjectRequest | int,
    to: str,
    actor: Any,
    reason: str = "",
    allowed_from: Iterable[str] | None = None,
    updates: Mapping[str, Any] | None = None,
) -> DataSubjectRequest:
    """Move a request to state ``to`` under a row lock, with its audit event.

    ``reason`` is a code or short standard phrase (never personal data). ``allowed_from``
    narrows the transitions the caller expects; ``updates`` are other fields to set.
    """
    pk = request.pk if isinstance(request, DataSubjectRequest) else request
    locked = DataSubjectRequest.objects.select_for_update().get(pk=pk)
    return transition_locked(
        locked, to=to, actor=actor, reason=reason, allowed_from=allowed_from, updates=updates
    )


def transition_locked(
    locked: DataSubjectRequest,
    *,
    to: str,
    actor: Any,
    reason: str = "",
    allowed_from: Iterable[str] | None = None,
    updates: Mapping[str, Any] | None = None,
) -> DataSubjectRequest:
    """:func:`dsr_request_transition` for a caller that holds the request's row lock in the
    current transaction (``locked`` was read with ``select_for_update``): no second lock, no
    savepoint."""
    before = locked.state
    if to not in TRANSITIONS.get(before, frozenset()) or (
        allowed_from is not None and before not in allowed_from
    ):
        raise TransitionError(
            _("This request is “%(state)s”, so it cannot become “%(to)s”.")
            % {"state": _state_label(before), "to": _state_label(to)}
        )
    locked.state = to
    for name, value in (updates or {}).items():
        setattr(locked, name, value)
    locked.save(update_fields=("state", "updated_at", *(updates or {})))
    audit_record(
        actor=actor,
        action="dsr.request.state_changed",
        target=locked,
        before={"state": before},
        after={
            "state": to,
            **{k: _auditable(v) for k, v in (updates or {}).items() if k in _AUDITED_FIELDS},
        },
        reason=reason,
    )
    return locked


_AUDITED_FIELDS = frozenset(
    {
        "identity_method",
        "outcome",
        "rejection_reason",
        "held_reason",
        "duplicate_of_id",
        "due_at",
        "approved_by_id",
        "assignee_id",
    }
)


def _auditable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --- intake ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intake:
    """What someone asked for, as received through any channel."""

    type: str
    email: str
    channel: str
    user: Any = None
    full_name: str = ""
    country: str = ""
    language: str = ""
    details: str = ""
    purposes: tuple[str, ...] = ()
    order_number: str = ""
    phone: str = ""
    # Staff and API intake: how the person's identity was checked (both required to skip the
    # e-mail confirmation).
    identity_method: str = ""
    identity_note: str = ""
    # Staff intake: when the request reached Inper (a letter of last week), if not now. The
    # deadline counts from it.
    received_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def is_opt_out(request_type: str, purposes: Iterable[str], *, signed_in: bool) -> bool:
    """Opt-outs need no identity check and no review: objecting to direct marketing, and
    withdrawing consent (beyond direct marketing only when signed in: see
    :func:`opt_out_part`)."""
    chosen = set(purposes)
    return bool(chosen) and opt_out_part(request_type, chosen, signed_in=signed_in) == chosen


def opt_out_part(request_type: str, purposes: Iterable[str], *, signed_in: bool) -> frozenset[str]:
    """The purposes of a request that take effect as soon as it is filed (the rest wait for
    the identity check).

    Direct marketing stops at once for anyone who asks, by objection or withdrawal. A consent
    is withdrawn as easily as it was given: at once from the person's own account
    (``signed_in``). Asked for with an e-mail address alone, a withdrawal beyond direct
    marketing would change how someone else's data is processed (an objection to transfers
    abroad restricts their record in other systems), so it waits for the e-mailed link."""
    if request_type not in PER_PURPOSE_TYPES:
        return frozenset()
    if request_type == RequestType.WITHDRAW_CONSENT and signed_in:
        return frozenset(purposes)
    from .consent_bridge import marketing_purposes

    return frozenset(purposes) & marketing_purposes()


def filed_signed_in(request: DataSubjectRequest) -> bool:
    """Whether the person filed ``request`` signed in to their account."""
    return request.channel == Channel.PORTAL and request.user_id is not None


def request_opt_out_part(request: DataSubjectRequest) -> frozenset[str]:
    """:func:`opt_out_part` of a filed request."""
    return opt_out_part(request.type, request.purposes, signed_in=filed_signed_in(request))


def request_is_opt_out(request: DataSubjectRequest) -> bool:
    """:func:`is_opt_out` of a filed request."""
    return is_opt_out(request.type, request.purposes, signed_in=filed_signed_in(request))


def _is_opt_out(intake: Intake) -> bool:
    signed_in = intake.channel == Channel.PORTAL and intake.user is not None
    return is_opt_out(intake.type, intake.purposes, signed_in=signed_in)


# Characters that show nothing: spaces of every kind, line and paragraph separators, and format
# characters such as the zero-width space and joiners.
_BLANK_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp"})


#: What staff are asked when their note of an identity check says nothing ("x", "ok").
_CHECK_IN_WORDS = gettext_lazy(
    "Say in a few words how you checked the person's identity, for example: passport seen, "
    "name and date of birth match."
)


# Letters and digits of the Latin, Greek, Cyrillic, Japanese, Chinese and Korean scripts,
# named by range so that Python and the API schema's readers (ECMAScript's patterns, whose
# ``\w`` is ASCII only) agree on them.
_LETTER = (
    "0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u04ff"
    "\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af"
)
#: Two words of two letters or digits or more ("Passport seen"): the least that says what was
#: checked (the API's schema states it too: privacy_portal.api_schema).
CHECK_IN_WORDS = f"[{_LETTER}]{{2,}}[^{_LETTER}]+(?:[{_LETTER}][^{_LETTER}]+)*[{_LETTER}]{{2,}}"


def describes_a_check(note: str) -> bool:
    """Whether ``note`` says in words what staff checked ("Passport seen"), not a mark."""
    return re.search(CHECK_IN_WORDS, note) is not None


def about_themselves(actor: Any, email: str) -> bool:
    """Whether ``actor``, a member of staff, would act on a request about their own address:
    nobody records, checks or approves their own (ask a colleague)."""
    own = getattr(actor, "email", "") if _is_person(actor) else ""
    return bool(own) and normalise_email(own) == normalise_email(email)


#: Said when staff would act on a request about themselves.
_ASK_A_COLLEAGUE = gettext_lazy(
    "Staff do not record, check or approve a request about themselves: ask a colleague."
)


def has_visible_text(value: str) -> bool:
    """Return whether ``value`` holds anything a reader would see."""
    return any(
        not char.isspace() and unicodedata.category(char) not in _BLANK_CATEGORIES for char in value
    )


#: The request types that name the purposes they are about.
PER_PURPOSE_TYPES = frozenset({RequestType.OBJECTION, RequestType.WITHDRAW_CONSENT})


def dsr_intake_validate(intake: Intake) -> None:
    """Raise ValidationError with a clear message if ``intake`` cannot be a request."""
    if intake.type not in RequestType.values:
        raise ValidationError(_("Choose what you would like us to do."))
    if intake.channel not in Channel.values:
        raise ValidationError(_("Unknown channel."))
    if not intake.email:
        raise ValidationError(_("An e-mail address is needed to answer the request."))
    from .consent_bridge import known_purposes, wrong_purposes_message

    # Only listed purposes, whatever the type (another type's are dropped when it is filed).
    objecting = intake.type in PER_PURPOSE_TYPES
    if set(intake.purposes) - known_purposes() or (objecting and not intake.purposes):
        raise ValidationError(_("Choose at least one of the listed uses of your data."))
    if objecting and (wrong := wrong_purposes_message(intake.type, intake.purposes)):
        raise ValidationError(wrong)
    if intake.type == RequestType.RECTIFICATION and not intake.details.strip():
        raise ValidationError(_("Tell us what is wrong and what it should say."))
    if intake.identity_method and intake.identity_method not in IdentityMethod.values:
        raise ValidationError(_("Unknown identity check."))
    if intake.identity_method and not describes_a_check(intake.identity_note):
        raise ValidationError(_CHECK_IN_WORDS)
    if intake.received_at is not None:
        if intake.channel not in _STAFF_CHANNELS - {Channel.API}:
            raise ValidationError(_("Only staff record when a request was received."))
        now = timezone.now()
        if intake.received_at > now:
            raise ValidationError(_("The day a request was received cannot be in the future."))
        if intake.received_at < now - timedelta(days=366):
            raise ValidationError(_("The day a request was received must be within the last year."))


def _next_reference(request: DataSubjectRequest) -> str:
    return f"DSR-{request.received_at.year}-{request.pk:06d}"


def _snapshot(intake: Intake, email: str) -> dict[str, Any]:
    from accounts.selectors import account_former_emails

    user = intake.user
    return {
        "email": email,
        "customer_id": str(user.pk) if user is not None else None,
        "phone": (getattr(user, "phone", "") or intake.phone) or None,
        "order_numbers": [intake.order_number] if intake.order_number else [],
        "name": (user.full_name if user is not None else intake.full_name) or None,
        # Taken now: an erasure of the portal's own tables deletes them while other stores'
        # tasks may still have to search by them.
        "former_emails": list(
            account_former_emails(user.pk if user is not None else None, searchable=True)
        ),
    }


def _account_of(user: Any, email: str) -> Any:
    """Return the person's account: the one signed in, or the one holding ``email`` as its
    verified address (None if neither). Staff and API intake often cannot say the person's
    language or country: their account can."""
    if user is None:
        from accounts.models import User

        from .identity import account_id_for

        account_id = account_id_for(email)
        user = User.objects.filter(pk=account_id).first() if account_id else None
    return user


def dsr_request_file(*, intake: Intake, actor: Any) -> DataSubjectRequest:
    """Receive a request from any channel: record it, link it as a duplicate if the same
    person already has an open request of this type, acknowledge it, and start the identity
    check (or skip it where the law allows: opt-outs; signed-in, re-authenticated people;
    staff who recorded how they checked)."""
    dsr_intake_validate(intake)
    if intake.channel in _STAFF_CHANNELS and about_themselves(actor, intake.email):
        raise ValidationError(_ASK_A_COLLEAGUE)
    email = normalise_email(intake.email)
    user = intake.user
    account = _account_of(user, email) if not (intake.country and intake.language) else user
    # The law follows where the person lives: as they said, else as their account says.
    country = intake.country or (str(account.country) if account and account.country else "")
    regime = deadlines.regime_for(country)
    received = intake.received_at or timezone.now()
    language = intake.language or getattr(account, "preferred_language", "")
    language = language or settings.LANGUAGE_CODE
    request = DataSubjectRequest(
        type=intake.type,
        regime=regime,
        channel=intake.channel,
        user=user,
        email=email,
        full_name=intake.full_name[:200],
        subject_key=email_hash(email),
        country=country,
        language=language[:8],
        details=normalise_line_breaks(intake.details),
        # Only objections and withdrawals are per purpose: purposes ticked with another type
        # (a form sent without its script, staff's form) would make it escape duplicate
        # detection, which compares purposes.
        purposes=sorted(set(intake.purposes)) if intake.type in PER_PURPOSE_TYPES else [],
        received_at=received,
        due_at=deadlines.due_at(regime, received),
        acknowledge_by=deadlines.acknowledge_by(regime, received),
        recorded_by=actor if intake.channel in _STAFF_CHANNELS and _is_person(actor) else None,
        api_client=actor if intake.channel == Channel.API and not _is_person(actor) else None,
        knowledge_required=(
            intake.type in KNOWLEDGE_TYPES and user is None and not intake.identity_method
        ),
    )
    request.set_snapshot(_snapshot(intake, email))
    with transaction.atomic():
        request.reference = f"TMP-{secrets.token_hex(8)}"
        open_of_type = DataSubjectRequest.objects.select_for_update().filter(
            subject_key=request.subject_key,
            type=request.type,
            state__in=[s.value for s in OPEN_STATES],
        )
        # An objection or withdrawal is per purpose: one that adds purposes to an open one is
        # a request of its own (and the rest, already asked for, is a duplicate).
        original = next(
            (open_ for open_ in open_of_type if set(request.purposes) <= set(open_.purposes)),
            None,
        )
        if original is not None and original.state == State.AWAITING_IDENTITY:
            # Nobody confirmed that one: it holds nothing back (see _supersede). One that asks
            # for fewer purposes is a request of its own; the rest still wait for the link.
            if set(request.purposes) == set(original.purposes):
                _supersede(original, request, actor=actor)
            original = None
        elif original is not None and _held_behind_a_guest(original, request, intake):
            _supersede(original, request, actor=actor)
            original = None
        if original is None:
            try:
                with transaction.atomic():
                    request.save()
            except IntegrityError:
                # Another intake for the same person, type and purposes won the race.
                original = open_of_type.get(purposes=request.purposes)
        if original is not None:
            request.pk = None
            request.state = State.DUPLICATE
            request.duplicate_of = original
            request.set_snapshot(None)
            if intake.identity_method and intake.channel in _STAFF_CHANNELS:
                # What staff checked stays on record with what they recorded (the original
                # goes on with its own check).
                request.identity_method = intake.identity_method
                request.identity_note = intake.identity_note[:500]
            request.save()
        request.reference = _next_reference(request)
        request.save(update_fields=("reference",))
        audit_record(
            actor=actor,
            action="dsr.request.received",
            target=request,
            after={
                "type": request.type,
                "channel": request.channel,
                "regime": request.regime,
                "state": request.state,
                "duplicate_of": request.duplicate_of_id,
            },
        )
        # An opt-out takes effect at once, also when it is linked as a duplicate of a request
        # still waiting (for an identity check, or for its stores) and when the same request
        # names purposes that must wait for the identity check.
        from .consent_bridge import apply_consent_changes

        apply_consent_changes(request, request_opt_out_part(request))
        if request.state == State.DUPLICATE:
            notifications.duplicate_received(request)
            return request
        established = _identity_without_link(intake)
        notifications.acknowledged(request, link_follows=established is None)
        request = _start_identity_check(request, established, actor)
    return request


def _held_behind_a_guest(
    original: DataSubjectRequest, request: DataSubjectRequest, intake: Intake
) -> bool:
    """Whether ``request``, filed by the signed-in, re-authenticated account holder, takes the
    place of ``original``: the same request filed without signing in for the account's address,
    whose order number did not show who asked, waiting for an officer to check it. The account
    holder's own request must not wait behind (and be decided with) one nobody has shown to be
    theirs."""
    return (
        original.state == State.IN_REVIEW
        and original.user_id is None
        and original.held_reason == "identity_needs_review"
        and intake.channel == Channel.PORTAL
        and intake.user is not None
        and set(request.purposes) == set(original.purposes)
    )


def _supersede(original: DataSubjectRequest, request: DataSubjectRequest, *, actor: Any) -> None:
    """Save ``request`` in place of ``original``, an open request of the same kind still
    waiting for its e-mail confirmation (or held behind a guest's unchecked identity: see
    :func:`_held_behind_a_guest`), which becomes its duplicate (its link stops working).

    A request nobody confirmed must not hold back a new one: the person may have lost the
    link, signed in since, or someone else may have typed their address; linked to it, the new
    request would close unverified with it. ``original`` is locked by the caller. The
    new request is saved first as the old one's duplicate, so that neither constraint (one
    open request per person, type and purposes; a duplicate names its original) is broken on
    the way."""
    request.state, request.duplicate_of = State.DUPLICATE, original
    request.save()
    transition_locked(
        original,
        to=State.DUPLICATE,
        actor=actor,
        reason="superseded_by_newer_request",
        # The nonce stays, so that the old link can say what became of it.
        updates={"duplicate_of_id": request.pk, "subject_snapshot": None},
    )
    request.state, request.duplicate_of = State.RECEIVED, None
    request.save(update_fields=("state", "duplicate_of"))


def _is_person(actor: Any) -> bool:
    return getattr(actor, "audit_actor_type", "person") == "person" and actor is not None


_STAFF_CHANNELS = frozenset(
    {Channel.EMAIL, Channel.PHONE, Channel.IN_PERSON, Channel.POST, Channel.API}
)


def _identity_without_link(intake: Intake) -> tuple[str, str] | None:
    """Return how the identity is established without an e-mailed link (the method and
    staff's note), or None: the person must confirm by the link."""
    if _is_opt_out(intake):
        return IdentityMethod.NOT_REQUIRED, ""
    if intake.channel in (Channel.PORTAL, Channel.ACCOUNT_CLOSURE) and intake.user is not None:
        return IdentityMethod.SESSION_REAUTH, ""
    if intake.identity_method and intake.channel in _STAFF_CHANNELS:
        return intake.identity_method, intake.identity_note
    return None


def _start_identity_check(
    request: DataSubjectRequest, established: tuple[str, str] | None, actor: Any
) -> DataSubjectRequest:
    """Record the identity as ``established`` (see :func:`_identity_without_link`), or send
    the e-mail confirmation link."""
    if established is None:
        return _send_verification(request, actor)
    method, note = established
    request = dsr_request_transition(
        request=request,
        to=State.VERIFIED,
        actor=actor,
        reason="identity_confirmed",
        updates={
            "identity_method": method,
            "identity_note": note[:500],
            "verified_at": timezone.now(),
        },
    )
    return _after_verified(_link_to_account(request, actor=actor), actor)


def _send_verification(request: DataSubjectRequest, actor: Any) -> DataSubjectRequest:
    nonce = secrets.token_urlsafe(16)
    updates: dict[str, Any] = {"verification_nonce": nonce, "verification_sent_at": timezone.now()}
    if deadlines.clock_pauses_for_identity(request.regime):
        updates["clock_paused_at"] = timezone.now()
    request = dsr_request_transition(
        request=request,
        to=State.AWAITING_IDENTITY,
        actor=actor,
        reason="verification_sent",
        updates=updates,
    )
    notifications.verification_link(request)
    return request


def _link_to_account(locked: DataSubjectRequest, *, actor: Any) -> DataSubjectRequest:
    """Link a request filed without signing in (a guest's, or one that staff or another Inper
    system recorded) to the account whose own verified address it was filed for, once its
    identity is established: the guest confirmed the e-mailed link, or staff recorded how they
    checked who the person is. The customer then finds it among their requests. The caller
    holds the request's row lock.

    Nothing the person reads changes: the request's e-mails and its signed link stay as they
    are (``followed_by_link``), so that they read the same whether or not an account exists."""
    if (
        locked.user_id is not None
        or locked.verified_at is None
        or locked.identity_method in ("", IdentityMethod.NOT_REQUIRED)
        or locked.held_reason == "identity_needs_review"
    ):
        return locked
    from .identity import account_holding

    account = account_holding(locked.email)
    if account is None:
        return locked
    locked.user = account
    fields = ["user", "updated_at"]
    snapshot = locked.snapshot()
    if snapshot:
        from accounts.selectors import account_former_emails

        # The account's earlier addresses are the person's too: its stores search by them.
        snapshot["former_emails"] = list(account_former_emails(account.pk, searchable=True))
        locked.set_snapshot(snapshot)
        fields.append("subject_snapshot")
    locked.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="dsr.request.linked_to_account",
        target=locked,
        after={"account": account.pk, "identity_method": locked.identity_method},
    )
    return locked


def _credentials_recently_changed(request: DataSubjectRequest) -> bool:
    """Whether the account the request is about (signed in, or reached by its verified
    address) changed its password or e-mail address recently."""
    from accounts.models import User

    from .identity import account_id_for

    user = request.user
    if user is None and request.email:
        account_id = account_id_for(request.email)
        user = User.objects.filter(pk=account_id).first() if account_id else None
    changed = getattr(user, "credentials_changed_at", None)
    hours = settings.DSR_HOLD_AFTER_CREDENTIAL_CHANGE_HOURS
    return bool(changed and timezone.now() - changed < timedelta(hours=hours))


def _held_for(request: DataSubjectRequest) -> str:
    """Why a verified request must wait for an officer whatever its type ("" if nothing)."""
    if request.type in KNOWLEDGE_TYPES and _credentials_recently_changed(request):
        # A taken-over account must not export or erase the owner's data unnoticed.
        return "credentials_recently_changed"
    return ""


def _approved_as_verified(request: DataSubjectRequest, held: str) -> bool:
    """Whether ``request``, its identity established, is approved without an officer: an
    opt-out, or a type ``DSR_AUTO_APPROVE`` names, unless it must wait (``held``: what
    :func:`_held_for` says)."""
    return request_is_opt_out(request) or (request.type in settings.DSR_AUTO_APPROVE and not held)


def _after_verified(request: DataSubjectRequest, actor: Any) -> DataSubjectRequest:
    """Approve at once where the settings allow it; otherwise ask a compliance officer."""
    held = _held_for(request)
    if _approved_as_verified(request, held):
        return dsr_request_approve(request=request, actor=None)
    request = dsr_request_transition(
        request=request,
        to=State.IN_REVIEW,
        actor=actor,
        reason=held or "needs_approval",
        updates={"held_reason": held},
    )
    notifications.officers_review_needed(request)
    if held:
        notifications.held_after_credentials_change(request)
    return request


# --- verification ------------------------------------------------------------------------------


class VerificationError(Exception):
    """A verification link that is forged, expired or already used."""


#: Order numbers a guest may type at one confirmation link: after the last one that matches
#: nothing, the request goes to an officer, who checks the identity by hand.
ORDER_NUMBER_TRIES = 3


class OrderNumberUnmatched(Exception):
    """The order number typed at a confirmation link is none of the person's orders; the
    link still works, for ``tries_left`` more."""

    def __init__(self, tries_left: int) -> None:
        super().__init__(tries_left)
        self.tries_left = tries_left


def _order_number_tries(request_id: int) -> int:
    """Count one more unmatched order number at the request's link; return how many so far
    (kept as long as the link works)."""
    key = f"dsr:order-number-tries:{request_id}"
    cache.add(key, 0, timeout=settings.DSR_VERIFICATION_DAYS * 24 * 3600)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between the two: this is the first
        cache.set(key, 1, timeout=settings.DSR_VERIFICATION_DAYS * 24 * 3600)
        return 1


def dsr_request_for_verification(*, request_id: int, nonce: str) -> DataSubjectRequest:
    """Return the request a verification link points to, or raise VerificationError."""
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if (
        request is not None
        and request.state == State.DUPLICATE
        and request.verification_nonce
        and secrets.compare_digest(request.verification_nonce, nonce)
    ):
        raise VerificationError(
            _(
                "A newer request of the same kind from this e-mail address replaced this one. "
                "Use the link in the most recent e-mail we sent you."
            )
        )
    if (
        request is None
        or request.state != State.AWAITING_IDENTITY
        or not request.verification_nonce
        or not secrets.compare_digest(request.verification_nonce, nonce)
    ):
        raise VerificationError(_("This link is not valid, or it was already used."))
    sent = request.verification_sent_at or request.received_at
    if timezone.now() - sent > timedelta(days=settings.DSR_VERIFICATION_DAYS):
        raise VerificationError(_("This link has expired."))
    return request


def _clock_resumed(request: DataSubjectRequest, now: datetime) -> dict[str, Any]:
    """Return the updates that restart a clock paused while the identity was awaited (UK
    GDPR): the paused time is added to the deadline."""
    paused = request.paused_seconds
    if request.clock_paused_at:
        paused += int((now - request.clock_paused_at).total_seconds())
    return {
        "clock_paused_at": None,
        "paused_seconds": paused,
        "due_at": deadlines.due_at(
            request.regime,
            request.received_at,
            extended=request.extended_at is not None,
            paused_seconds=paused,
        ),
    }


def dsr_request_verify_email(
    *, request_id: int, nonce: str, order_number: str = "", retry_unmatched: bool = False
) -> DataSubjectRequest:
    """Confirm a guest's e-mail address from the single-use link; for access and erasure,
    also check the order number against the stores. Without a match the request goes to a
    compliance officer, who checks the identity by hand; ``retry_unmatched``: an order number
    that matched nothing raises :class:`OrderNumberUnmatched` instead, the link still working,
    until ``ORDER_NUMBER_TRIES`` were typed (a typo must not cost the person days)."""
    with transaction.atomic():
        request = dsr_request_for_verification(request_id=request_id, nonce=nonce)
        request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        if request.verification_nonce != nonce:
            raise VerificationError(_("This link is not valid, or it was already used."))
        now = timezone.now()
        updates: dict[str, Any] = {"verification_nonce": "", **_clock_resumed(request, now)}
        if request.knowledge_required:
            from .identity import confirm_knowledge

            snapshot = request.snapshot()
            if order_number:
                snapshot["order_numbers"] = [order_number.strip()[:64]]
                request.set_snapshot(snapshot)
                updates["subject_snapshot"] = request.subject_snapshot
            matched = bool(order_number) and confirm_knowledge(request)
            if order_number and not matched and retry_unmatched:
                tried = _order_number_tries(request.pk)
                if tried < ORDER_NUMBER_TRIES:
                    raise OrderNumberUnmatched(ORDER_NUMBER_TRIES - tried)
            if matched:
                updates.update(identity_method=IdentityMethod.EMAIL_AND_KNOWLEDGE, verified_at=now)
                request = dsr_request_transition(
                    request=request,
                    to=State.VERIFIED,
                    actor=None,
                    reason="email_and_order_matched",
                    updates=updates,
                )
                return _after_verified(_link_to_account(request, actor=None), None)
            updates["held_reason"] = "identity_needs_review"
            request = dsr_request_transition(
                request=request,
                to=State.IN_REVIEW,
                actor=None,
                reason="email_confirmed_knowledge_unmatched",
                updates=updates,
            )
            notifications.officers_review_needed(request)
            return request
        updates.update(identity_method=IdentityMethod.EMAIL_LINK, verified_at=now)
        request = dsr_request_transition(
            request=request,
            to=State.VERIFIED,
            actor=None,
            reason="email_confirmed",
            updates=updates,
        )
        return _after_verified(_link_to_account(request, actor=None), None)


@transaction.atomic
def dsr_request_verify_manually(
    *, request: DataSubjectRequest, actor: Any, method: str, note: str
) -> DataSubjectRequest:
    """Record that staff checked the person's identity by hand (with the method used)."""
    if method not in IdentityMethod.values or method == IdentityMethod.NOT_REQUIRED:
        raise ValidationError(_("Choose how the identity was checked."))
    if not describes_a_check(note):
        raise ValidationError(_CHECK_IN_WORDS)
    if about_themselves(actor, request.email):
        raise ValidationError(_ASK_A_COLLEAGUE)
    locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
    if locked.verified_at is not None and locked.held_reason != "identity_needs_review":
        raise TransitionError(_("The identity of this person is already confirmed."))
    now = timezone.now()
    updates = {
        "identity_method": method,
        "identity_note": note.strip()[:500],
        "verified_at": now,
        "verification_nonce": "",
        "held_reason": "",
        # Checked by hand while the link was still awaited: the clock runs again from now.
        **_clock_resumed(locked, now),
    }
    if locked.state == State.IN_REVIEW:
        for name, value in updates.items():
            setattr(locked, name, value)
        locked.save()
        audit_record(
            actor=actor,
            action="dsr.request.identity_verified",
            target=locked,
            after={"identity_method": method},
        )
        linked = _link_to_account(locked, actor=actor)
        if _approved_as_verified(linked, _held_for(linked)):
            # Held only for the identity check, which the settings approve at once for its
            # type once done: no second decision for the officer who just made it.
            return dsr_request_approve(request=linked, actor=None)
        return linked
    locked = dsr_request_transition(
        request=locked,
        to=State.VERIFIED,
        actor=actor,
        reason="identity_verified_by_staff",
        allowed_from=(State.RECEIVED, State.AWAITING_IDENTITY),
        updates=updates,
    )
    locked = _link_to_account(locked, actor=actor)
    return dsr_request_transition(
        request=locked, to=State.IN_REVIEW, actor=actor, reason="needs_approval"
    )


# --- decisions ---------------------------------------------------------------------------------


def dsr_request_approve(*, request: DataSubjectRequest, actor: Any) -> DataSubjectRequest:
    """Approve a verified request: plan one task per store and action, and start them once
    the transaction commits."""
    with transaction.atomic():
        locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        if locked.verified_at is None or locked.held_reason == "identity_needs_review":
            raise TransitionError(_("Confirm the person's identity before approving."))
        if about_themselves(actor, locked.email):
            raise TransitionError(_ASK_A_COLLEAGUE)
        locked = transition_locked(
            locked,
            to=State.APPROVED,
            actor=actor,
            reason="approved",
            allowed_from=(State.VERIFIED, State.IN_REVIEW),
            updates={
                "approved_at": timezone.now(),
                "approved_by": actor if getattr(actor, "pk", None) else None,
                "held_reason": "",
            },
        )
        from .consent_bridge import apply_consent_changes

        # The rest of what the person objected to (the opt-out part took effect at filing).
        apply_consent_changes(locked, set(locked.purposes) - request_opt_out_part(locked))
        tasks = _plan_tasks(locked)
        if not tasks:
            return _finish(locked, outcome="done")
        locked = transition_locked(locked, to=State.RUNNING, actor=None, reason="tasks_planned")
        from .engine import send_planned_on_commit

        send_planned_on_commit(tasks)
    return locked


def connector_supports(store: DataStore, action: str) -> bool:
    """Whether requests ask ``store`` for ``action``: its connector can, and the store's
    configuration (``actions``) does not leave it out."""
    from .connectors.registry import connector_class

    try:
        supported = action in connector_class(store.connector).supports
    except ImportError:
        return True  # planned anyway: the task fails visibly for staff to fix the store
    # A store's configuration may narrow what requests ask of it (``actions``).
    narrowed = (store.config or {}).get("actions")
    return supported and (not isinstance(narrowed, list) or action in narrowed)


def store_reaches(store: DataStore, subject: Subject) -> bool:
    """Whether ``store`` can find ``subject``: it names no identities it is searched by, or
    the person has one of them. A store that knows people only by their portal account (the
    analytics service) cannot find a guest who has none: no step is planned there, and the
    person is not told of one."""
    kinds = store.identities or []
    return not kinds or any(subject.identity(kind) for kind in kinds)


def _plan_tasks(request: DataSubjectRequest) -> list[StoreTask]:
    """Insert one task per store and action, marked as sent (the caller sends them when its
    transaction commits)."""
    from .identity import subject_of

    stores = list(DataStore.objects.filter(enabled=True).order_by("position", "name"))
    subject = subject_of(request)
    planned: list[StoreTask] = []
    unreached: list[int] = []
    for store in stores:
        if not store_reaches(store, subject):
            unreached.append(store.pk)
            continue
        for action in PLAN[request.type]:
            if connector_supports(store, action):
                planned.append(
                    StoreTask(
                        request=request,
                        store=store,
                        action=action,
                        max_attempts=settings.DSR_TASK_MAX_ATTEMPTS,
                    )
                )
        if request.type in (RequestType.OBJECTION, RequestType.WITHDRAW_CONSENT):
            purpose_keys = set(store.config.get("purpose_keys", []))
            if purpose_keys & set(request.purposes) and connector_supports(store, Action.RESTRICT):
                planned.append(
                    StoreTask(
                        request=request,
                        store=store,
                        action=Action.RESTRICT,
                        max_attempts=settings.DSR_TASK_MAX_ATTEMPTS,
                    )
                )
    now = timezone.now()
    for task in planned:
        task.enqueued_at = now
    created = StoreTask.objects.bulk_create(planned)
    if request.type in (RequestType.ACCESS, RequestType.PORTABILITY):
        from .packages import package_prepare

        package_prepare(request)
    audit_record(
        actor=None,
        action="dsr.request.planned",
        target=request,
        after={
            "tasks": [[t.store_id, t.action] for t in created],
            **({"unreached": unreached} if unreached else {}),
        },
    )
    return created


def plan_recipients(
    request: DataSubjectRequest, done: list[tuple[int, str, dict[str, Any] | None]]
) -> list[StoreTask]:
    """Once the other steps of an erasure, correction or restriction are done (``done``: each
    succeeded task's store, action and receipt), plan a step telling each recipient Inper may
    have shared the person's data with to do the same (GDPR Art. 19): only if a system held
    data about them (a recipient whose configuration names ``shared_from`` stores, only if one
    of those did), so that nobody is told of a person they never received. A recipient that
    restricted the data itself learnt of the restriction by doing it. Return the tasks, to be
    sent when the caller's transaction commits (audited with the plan)."""
    from .engine import found_anything
    from .identity import subject_of

    if request.type not in NOTIFY_RECIPIENTS:
        return []
    recipients = [
        store
        for store in DataStore.objects.filter(enabled=True, is_recipient=True).order_by(
            "position", "name"
        )
        if connector_supports(store, Action.NOTIFY)
    ]
    if not recipients:
        return []
    holding = {store for store, _, receipt in done if found_anything([receipt])}
    if not holding:
        return []
    held_in: set[str] = set()
    if any(store.config.get("shared_from") for store in recipients):
        held_in = set(DataStore.objects.filter(pk__in=holding).values_list("key", flat=True))
    subject = subject_of(request)
    restricted_itself = {store for store, action, _ in done if action == Action.RESTRICT}
    planned = [
        StoreTask(
            request=request,
            store=store,
            action=Action.NOTIFY,
            max_attempts=settings.DSR_TASK_MAX_ATTEMPTS,
            enqueued_at=timezone.now(),
        )
        for store in recipients
        if store.pk not in restricted_itself
        and store_reaches(store, subject)
        and (not store.config.get("shared_from") or held_in & set(store.config["shared_from"]))
    ]
    created = StoreTask.objects.bulk_create(planned)
    if created:
        audit_record(
            actor=None,
            action="dsr.request.recipients_planned",
            target=request,
            after={"tasks": [[t.store_id, t.action] for t in created]},
        )
    return created


def dsr_request_reject(
    *, request: DataSubjectRequest, actor: Any, reason: str, note: str = ""
) -> DataSubjectRequest:
    """Reject a request with a standard reason (and, for "other", an explanation); the person
    is told why and of their right to complain to a supervisory authority."""
    if reason not in RejectionReason.values:
        raise ValidationError(_("Choose a reason."))
    if reason == RejectionReason.OTHER and not has_visible_text(note):
        raise ValidationError(_("Explain the reason to the person."))
    with transaction.atomic():
        request = dsr_request_transition(
            request=request,
            to=State.REJECTED,
            actor=actor,
            reason=f"rejected:{reason}",
            allowed_from=(State.RECEIVED, State.AWAITING_IDENTITY, State.VERIFIED, State.IN_REVIEW),
            updates={
                "rejection_reason": reason,
                "rejection_note": note.strip()[:2000],
                "completed_at": timezone.now(),
                "outcome": "rejected",
                "verification_nonce": "",
            },
        )
        request.set_snapshot(None)
        request.save(update_fields=("subject_snapshot",))
        notifications.rejected(request)
    return request


@transaction.atomic
def dsr_request_extend(
    *, request: DataSubjectRequest, actor: Any, reason: str
) -> DataSubjectRequest:
    """Extend the deadline once (GDPR: two more months; CCPA: 45 more days), telling the
    person why. Only before the original deadline."""
    if not has_visible_text(reason):
        raise ValidationError(_("Give the reason for the extension; the person will read it."))
    locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
    if not locked.is_open:
        raise TransitionError(_("Only open requests can be extended."))
    if locked.extended_at is not None:
        raise TransitionError(_("This request was already extended once."))
    if not locked.address_confirmed:
        # The reason would be e-mailed to an address nobody confirmed asked for anything.
        raise TransitionError(_("Confirm who the person is before extending the deadline."))
    now = timezone.now()
    if now > locked.due_at:
        raise TransitionError(_("The deadline has passed; it can no longer be extended."))
    before = locked.due_at
    locked.extended_at = now
    locked.extension_reason = reason.strip()[:2000]
    locked.due_at = deadlines.extended_due_at(locked)
    locked.save(update_fields=("extended_at", "extension_reason", "due_at", "updated_at"))
    audit_record(
        actor=actor,
        action="dsr.request.extended",
        target=locked,
        before={"due_at": before.isoformat()},
        after={"due_at": locked.due_at.isoformat()},
    )
    notifications.extended(locked)
    return locked


def _cancel_refusal(state: str) -> str:
    """Return why a request in ``state`` can no longer be cancelled, in plain words."""
    if state == State.CANCELLED:
        return _("This request has already been cancelled.")
    if state in (State.COMPLETED, State.PARTIALLY_COMPLETED):
        return _("This request can no longer be cancelled: it has already been carried out.")
    if state in (State.APPROVED, State.RUNNING, State.WAITING):
        return _("This request can no longer be cancelled: we have already started on it.")
    return _("This request can no longer be cancelled: it is already closed.")


def person_may_cancel(request: DataSubjectRequest) -> bool:
    """Whether the person may still cancel ``request`` themselves: not once anything has run,
    and never the erasure that closing their account started (the closure is final)."""
    return request.state in CANCELLABLE and request.channel != Channel.ACCOUNT_CLOSURE


def dsr_request_cancel(
    *, request: DataSubjectRequest, actor: Any, by_person: bool = False
) -> DataSubjectRequest:
    """Cancel a request before anything has run: ``by_person``, or staff on their behalf, as
    the person asked them (then the person is told by e-mail, which someone who did not ask
    would notice).

    Raise :class:`TransitionError`, saying why in plain words, once that is too late."""
    with transaction.atomic():
        locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        if by_person and locked.channel == Channel.ACCOUNT_CLOSURE:
            raise TransitionError(
                _("The erasure that closing your account started cannot be cancelled.")
            )
        if locked.state not in CANCELLABLE:
            raise TransitionError(_cancel_refusal(locked.state))
        request = transition_locked(
            locked,
            to=State.CANCELLED,
            actor=actor,
            reason="cancelled" if by_person else "cancelled_for_person",
            allowed_from=CANCELLABLE,
            updates={
                "completed_at": timezone.now(),
                "outcome": "cancelled",
                "verification_nonce": "",
            },
        )
        if not by_person:
            notifications.cancelled(request)  # before the snapshot with their name goes
        request.set_snapshot(None)
        request.save(update_fields=("subject_snapshot",))
    return request


#: ``expected_assignee_id`` left out: assign whoever holds the request now.
ANY_ASSIGNEE: Any = object()


@transaction.atomic
def dsr_request_assign(
    *,
    request: DataSubjectRequest,
    assignee: Any,
    actor: Any,
    expected_assignee_id: int | None = ANY_ASSIGNEE,
) -> DataSubjectRequest:
    """Assign the request to a staff member (or to nobody). With ``expected_assignee_id`` (the
    assignee the officer saw, None for nobody), refuse if someone changed it meanwhile, so that
    two officers taking the same request at once cannot both get it."""
    locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
    before = locked.assignee_id
    if before == getattr(assignee, "pk", None):
        return locked  # already so (a second click of the same button): nothing to record
    if expected_assignee_id is not ANY_ASSIGNEE and before != expected_assignee_id:
        raise TransitionError(
            _("Someone else changed who handles this request meanwhile; look again.")
        )
    locked.assignee = assignee
    locked.save(update_fields=("assignee", "updated_at"))
    audit_record(
        actor=actor,
        action="dsr.request.assigned",
        target=locked,
        before={"assignee_id": before},
        after={"assignee_id": locked.assignee_id},
    )
    return locked


# --- store tasks -------------------------------------------------------------------------------


def dsr_task_retry(*, task: StoreTask, actor: Any) -> StoreTask:
    """Run a failed store task again (staff); the request goes back to "in progress"."""
    with transaction.atomic():
        locked = StoreTask.objects.select_for_update().get(pk=task.pk)
        if locked.state != TaskState.FAILED:
            raise TransitionError(_("Only failed tasks can be retried."))
        request = DataSubjectRequest.objects.select_for_update().get(pk=locked.request_id)
        if locked.action != Action.LIFT and request.restriction_lift_started_at is not None:
            # Restricting the data again would undo the lift the person was told of.
            raise TransitionError(
                _("This restriction is being lifted or was lifted: its steps are not run again.")
            )
        lifting = (
            locked.action == Action.LIFT
            and request.state in LIFTABLE_STATES
            and request.restriction_lifting
        )
        if ExportPackage.objects.filter(request=request, purged_at__isnull=False).exists():
            # Its key and the other stores' parts are gone: a retry could only build a copy of
            # this one store.
            raise TransitionError(
                _(
                    "The copy of this request has expired and was deleted, so this store "
                    "cannot be added to it. The person can ask for a new copy."
                )
            )
        if request.state == State.PARTIALLY_COMPLETED and not lifting:
            dsr_request_transition(
                request=request, to=State.RUNNING, actor=actor, reason="task_retried"
            )
        elif request.state not in (State.RUNNING, State.WAITING) and not lifting:
            raise TransitionError(_("The request is no longer running."))
        failed_with = {
            "failed_with": locked.error_detail or locked.error[:300],
            "after_attempts": locked.attempts,
        }
        if request.failed_steps_accepted_at is not None:
            # Retried for a full answer: should it fail again, the request waits again.
            request.failed_steps_accepted_at = None
            request.save(update_fields=["failed_steps_accepted_at"])
        locked.state = TaskState.QUEUED
        locked.staff_retries += 1
        locked.attempts_before_retries += locked.attempts
        locked.attempts = 0
        locked.error = ""
        locked.error_detail = None
        locked.error_permanent = False
        locked.finished_at = None
        locked.save()
        audit_record(
            actor=actor,
            action="dsr.task.retried",
            target=locked,
            scope=request,
            after={"store": locked.store_id, "action": locked.action, **failed_with},
        )
        if request.type in (RequestType.ACCESS, RequestType.PORTABILITY):
            ExportPackage.objects.filter(request=request).update(built_at=None)
        from .engine import enqueue_on_commit

        enqueue_on_commit([locked.pk])
    return locked


def dsr_request_answer_without_failed(
    *, request: DataSubjectRequest, actor: Any
) -> DataSubjectRequest:
    """Answer the person now, without what the steps that failed for good would have done
    (an officer's decision, audited): the request is completed in part, and a later retry of
    such a step can still complete it."""
    with transaction.atomic():
        locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        states = dict(
            locked.tasks.exclude(action=Action.LIFT).values_list("pk", "state").order_by("pk")
        )
        failed = [pk for pk, state in states.items() if state == TaskState.FAILED]
        busy = any(state not in TASK_DONE_STATES for state in states.values())
        if locked.state != State.WAITING or not failed or busy:
            raise TransitionError(
                _(
                    "Only a request held by a failed step, with nothing else left to do, can "
                    "be answered without it."
                )
            )
        locked.failed_steps_accepted_at = timezone.now()
        locked.save(update_fields=["failed_steps_accepted_at"])
        audit_record(
            actor=actor,
            action="dsr.request.answered_without_failed",
            target=locked,
            after={
                "stores": list(
                    StoreTask.objects.filter(pk__in=failed)
                    .order_by("pk")
                    .values_list("store_id", flat=True)
                )
            },
        )
        from .engine import advance_on_commit

        advance_on_commit(locked.pk)
    return locked


def dsr_task_complete_manual(
    *,
    task: StoreTask,
    actor: Any,
    note: str,
    evidence: Any = None,
    receipt: Mapping[str, Any] | None = None,
) -> StoreTask:
    """Mark a manual step done (staff), with a note and optional evidence file."""
    if not has_visible_text(note):
        raise ValidationError(_("Describe what you did."))
    with transaction.atomic():
        locked = StoreTask.objects.select_for_update().get(pk=task.pk)
        if locked.state != TaskState.WAITING:
            raise TransitionError(_("This step is not waiting for anyone."))
        if locked.waiting_for != "manual":
            # A service's deferred result counts only with its signed callback (or fails for
            # staff to retry when overdue); staff cannot vouch for it by hand.
            raise TransitionError(_("This step waits for the store's own signed answer."))
        locked.state = TaskState.SUCCEEDED
        locked.note = note.strip()[:4000]
        locked.completed_by = actor
        locked.finished_at = timezone.now()
        proof: dict[str, Any] = {"manual": True, "completed_at": locked.finished_at.isoformat()}
        if evidence is not None:
            # The file's checksum goes into the receipt (and an erasure's signed record).
            digest = hashlib.sha256()
            for chunk in evidence.chunks():
                digest.update(chunk)
            evidence.seek(0)
            proof["evidence_sha256"] = digest.hexdigest()
            locked.evidence = evidence
        locked.receipt = {**proof, **(receipt or {})}
        locked.save()
        # In the audit chain: which step, and checksums of what staff gave as proof (the note
        # may name the person: its checksum shows it was not changed afterwards).
        kept = ("evidence_sha256", "nothing_held", "files")
        audit_record(
            actor=actor,
            action="dsr.task.completed_by_staff",
            target=locked,
            scope=f"dsr.datasubjectrequest:{locked.request_id}",
            after={
                "store": locked.store_id,
                "action": locked.action,
                "note_sha256": hashlib.sha256(locked.note.encode()).hexdigest(),
                **{key: locked.receipt[key] for key in kept if key in locked.receipt},
            },
        )
        from .engine import advance_on_commit

        advance_on_commit(locked.request_id)
    return locked


def corrections_made_by_staff(*, user_id: int, actor: Any, fields: list[str]) -> list[str]:
    """Staff changed a customer's profile or addresses in the admin while a correction the
    customer asked for is being carried out: note it on each such request's timeline (which
    fields, by whom; not the values), so that the request shows where its correction was made.
    Return the requests' references."""
    corrected = DataSubjectRequest.objects.filter(
        user_id=user_id,
        type=RequestType.RECTIFICATION,
        state__in=(State.APPROVED, State.RUNNING, State.WAITING),
    ).order_by("pk")
    references = []
    for request in corrected:
        audit_record(
            actor=actor,
            action="dsr.request.corrected_in_admin",
            target=request,
            after={"fields": fields},
        )
        references.append(request.reference)
    return references


# --- finishing ----------------------------------------------------------------------------------


def _finish(
    request: DataSubjectRequest, *, outcome: str, partial: bool = False
) -> DataSubjectRequest:
    """Close a request whose work is done (in the caller's transaction, which holds the
    request's row lock)."""
    if request.type == RequestType.ERASURE and not partial:
        from .erasure import erasure_record_create

        # Before the snapshot of the person's identity is cleared (its keyed hashes are kept).
        erasure_record_create(request)
        # Their data is gone: the identities kept to lift their restrictions go too.
        DataSubjectRequest.objects.filter(
            subject_key=request.subject_key,
            type=RequestType.RESTRICTION,
            state__in=LIFTABLE_STATES,
            subject_snapshot__isnull=False,
        ).update(subject_snapshot=None)
    updates: dict[str, Any] = {"completed_at": timezone.now(), "outcome": outcome}
    # A restriction stays in force: the identities it was applied with are kept (encrypted)
    # until it is lifted with them, or the request's record is redacted.
    if not partial and request.type != RequestType.RESTRICTION:
        request.set_snapshot(None)
        updates["subject_snapshot"] = request.subject_snapshot
    request = transition_locked(
        request,
        to=State.PARTIALLY_COMPLETED if partial else State.COMPLETED,
        actor=None,
        reason="partly_done" if partial else outcome,
        updates=updates,
    )
    notifications.completed(request)
    if request.type in PER_PURPOSE_TYPES:
        # The person switched the use on again while their objection was being carried out:
        # what it just restricted is lifted, as it would have been had it been done.
        from .engine import still_objected

        if request.tasks.filter(
            action=Action.RESTRICT, state=TaskState.SUCCEEDED
        ).exists() and not still_objected(request):
            request = dsr_objection_lift(request=request, actor=None)
    return request


# --- lifting a restriction ---------------------------------------------------------------------


def _lift_refusal(request: DataSubjectRequest) -> str:
    """Return why ``request`` cannot be lifted now, in plain words ("" if it can)."""
    if request.type != RequestType.RESTRICTION:
        return _("Only a restriction of processing can be lifted.")
    if request.restriction_lifted_at is not None:
        return _("This restriction was already lifted.")
    if request.restriction_lift_started_at is not None:
        return _("This restriction is already being lifted.")
    if request.state not in LIFTABLE_STATES:
        # A partly completed one may be: the stores that restricted the data lift it.
        from .dashboard.labels import state_label  # officers lift, in their words

        return _("Only a completed restriction can be lifted; this one is “%(state)s”.") % {
            "state": state_label(request.state)
        }
    if request.redacted_at is not None or not request.email:
        return _(
            "The person's details were removed with the request's record, so they cannot be "
            "told: this restriction cannot be lifted here."
        )
    if DataSubjectRequest.objects.filter(
        subject_key=request.subject_key,
        type=RequestType.ERASURE,
        state=State.COMPLETED,
        completed_at__gt=request.completed_at,
    ).exists():
        # Nothing of theirs is left to lift, and the address kept for proof with the
        # request's record is not for writing to them about it.
        return _("The person's data was erased since, so nothing of it is left to lift.")
    return ""


def restriction_may_be_lifted(request: DataSubjectRequest) -> bool:
    """Whether an officer may lift ``request`` now (a completed restriction, not lifted)."""
    return not _lift_refusal(request)


def dsr_restriction_lift(
    *, request: DataSubjectRequest, actor: Any, reason: str
) -> DataSubjectRequest:
    """Lift a completed restriction (GDPR Art. 18(3)): first tell the person, by e-mail in
    their language, that it is being lifted and why; then ask every store that restricted
    their data to lift it, through store tasks that the workers run. The request stays
    completed; it is lifted once every store has lifted it (:func:`restriction_lift_finish`).

    Raise ValidationError without a reason, TransitionError (changing nothing) when the
    request is not a completed restriction that can still be lifted, and LiftNoticeError
    (lifting nothing) when the e-mail cannot be sent."""
    if not has_visible_text(reason):
        raise ValidationError(
            _("Give the reason for lifting the restriction; the person will read it.")
        )
    with transaction.atomic():
        locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        refusal = _lift_refusal(locked)
        if refusal:
            raise TransitionError(refusal)
        locked.restriction_lift_reason = normalise_line_breaks(reason.strip())[:2000]
        locked.restriction_lift_started_at = timezone.now()
        locked.restriction_lifted_by = actor if _is_person(actor) else None
        # Before anything is written, and before the audit trail is locked for the event:
        # the person must be told first, and a slow mail server must hold up nothing else.
        try:
            notifications.restriction_lift_notice(locked)
        except OSError as error:  # the mail server refused, or did not answer in time
            raise LiftNoticeError(
                _(
                    "The e-mail telling the person could not be sent, so the restriction was "
                    "not lifted. Try again later."
                )
            ) from error
        locked.save(
            update_fields=(
                "restriction_lift_reason",
                "restriction_lift_started_at",
                "restriction_lifted_by",
                "updated_at",
            )
        )
        return _lift_start(locked, actor, "dsr.restriction.lift_started", person_told=True)


def dsr_objection_lift(*, request: DataSubjectRequest, actor: Any) -> DataSubjectRequest:
    """Lift the marks an objection or a withdrawal of consent set in Inper's other systems,
    because the person switched the use it stopped on again (and none it stopped is off for
    them now: the caller checks): the objection is theirs to take back, so nobody reviews it
    and nobody need tell them first. The stores lift it through store tasks, as for a lifted
    restriction (:func:`restriction_lift_finish` records the end); a store where another of
    their requests still holds the mark keeps it. Does nothing for a request whose lift
    started already."""
    with transaction.atomic():
        locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        if (
            locked.type not in PER_PURPOSE_TYPES
            or locked.restriction_lift_started_at is not None
            or locked.state not in LIFTABLE_STATES
        ):
            return locked
        locked.restriction_lift_started_at = timezone.now()
        locked.restriction_lifted_by = actor if _is_person(actor) else None
        locked.save(
            update_fields=("restriction_lift_started_at", "restriction_lifted_by", "updated_at")
        )
        return _lift_start(locked, actor, "dsr.objection.lift_started")


def _lift_start(
    locked: DataSubjectRequest, actor: Any, action: str, **after: Any
) -> DataSubjectRequest:
    """Plan the lift's store tasks and audit its start (the caller holds the row lock and
    saved the start); send the tasks on commit, or finish at once if no store takes part."""
    tasks = _plan_lift(locked)
    left = [store.pk for store in restriction_left_in(locked)]
    audit_record(
        actor=actor,
        action=action,
        target=locked,
        after={
            **after,
            "stores": [task.store_id for task in tasks],
            # Restricted there, but no step can lift it: staff do it by hand.
            **({"stores_left": left} if left else {}),
        },
    )
    if not tasks:
        return restriction_lift_finish(locked)
    from .engine import send_planned_on_commit

    send_planned_on_commit(tasks)
    return locked


def restriction_not_reaching(request: DataSubjectRequest) -> list[DataStore]:
    """Return the stores in use that ``request`` (a restriction) took no step in, as they can
    neither restrict data nor be told of a restriction: the person is told that it does not
    apply there."""
    return list(
        DataStore.objects.filter(enabled=True)
        .exclude(tasks__request=request)
        .order_by("position", "name")
    )


def restriction_left_in(request: DataSubjectRequest) -> list[DataStore]:
    """Return the stores that restricted the person's data for ``request`` but get no step to
    lift it (switched off since, or no longer able to restrict): staff lift it there by
    hand."""
    restricted = DataStore.objects.filter(
        tasks__request=request, tasks__action=Action.RESTRICT, tasks__state=TaskState.SUCCEEDED
    ).order_by("position", "name")
    lifting = set(
        StoreTask.objects.filter(request=request, action=Action.LIFT).values_list(
            "store_id", flat=True
        )
    )
    return [store for store in restricted.distinct() if store.pk not in lifting]


def _plan_lift(request: DataSubjectRequest) -> list[StoreTask]:
    """Insert a task that lifts the restriction in each store that applied it (enabled, and
    still able to restrict), marked as sent (the caller sends them on commit)."""
    stores = DataStore.objects.filter(
        enabled=True,
        tasks__request=request,
        tasks__action=Action.RESTRICT,
        tasks__state=TaskState.SUCCEEDED,
    ).order_by("position", "name")
    now = timezone.now()
    return StoreTask.objects.bulk_create(
        StoreTask(
            request=request,
            store=store,
            action=Action.LIFT,
            max_attempts=settings.DSR_TASK_MAX_ATTEMPTS,
            enqueued_at=now,
        )
        for store in stores
        if connector_supports(store, Action.RESTRICT)
    )


def restriction_lift_finish(locked: DataSubjectRequest) -> DataSubjectRequest:
    """Record that every store lifted the restriction (the caller holds the request's row
    lock); the identities kept for it go."""
    locked.restriction_lifted_at = timezone.now()
    locked.set_snapshot(None)
    locked.save(update_fields=("restriction_lifted_at", "subject_snapshot", "updated_at"))
    lifted = "restriction" if locked.type == RequestType.RESTRICTION else "objection"
    audit_record(actor=None, action=f"dsr.{lifted}.lifted", target=locked)
    return locked


# --- account closure ---------------------------------------------------------------------------


def dsr_request_open_for_closure(*, user: Any, actor: Any) -> DataSubjectRequest:
    """Turn an account closure into an erasure request (the closure handler of accounts), and
    stop the account's marketing at once."""
    from .consent_bridge import stop_marketing_for_closure

    asked = (
        DataSubjectRequest.objects.filter(
            user=user, type=RequestType.ERASURE, state__in=[s.value for s in OPEN_STATES]
        )
        .exclude(state=State.AWAITING_IDENTITY)
        .order_by("pk")
        .first()
    )
    if asked is not None:
        # The erasure the person already asked for erases the account too: no second one,
        # whose acknowledgement would call the closure a duplicate in the same breath as the
        # e-mail that the account is closed (which names this one).
        stop_marketing_for_closure(asked, actor=actor)
        return asked
    request = dsr_request_file(
        intake=Intake(
            type=RequestType.ERASURE,
            email=user.email,
            channel=Channel.ACCOUNT_CLOSURE,
            user=user,
            language=user.preferred_language,
        ),
        actor=actor,
    )
    stop_marketing_for_closure(request, actor=actor)
    return request
