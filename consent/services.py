"""Every change to consent. Each service runs in one transaction: the ledger event, the current
state and (for staff, API and erasure) the audit event are written together or not at all.

:func:`consent_record` is the one function that writes the ledger; the others decide what to
record and call it (or its batch form).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from privacy_portal.audit.models import ActorType as AuditActorType
from privacy_portal.audit.services import audit_record
from privacy_portal.dbutils import (
    insert_into,
    insert_params,
    mark_saved,
    quoted_column,
    quoted_table,
)
from privacy_portal.mail import send_email_on_commit
from privacy_portal.pseudonymise import (
    client_ip_truncated,
    email_hash,
    keyed_hash,
    normalise_email,
    user_agent_hash,
)

from . import tokens
from .catalogue import Catalogue, PurposeInfo, catalogue, catalogue_invalidate
from .models import (
    ActorType,
    ApiClient,
    Channel,
    ConsentEvent,
    ConsentState,
    ConsentSubject,
    PendingConfirmation,
    PolicyAcknowledgement,
    PolicyVersion,
    PurposeKind,
    Source,
    SuppressionEntry,
    UsedToken,
    WebhookDelivery,
    WebhookSubscription,
    told_before,
)
from .selectors import (
    ALSO_RECORDED_ON,
    COPIED_FROM_VISITOR,
    consent_current_forget,
    suppression_hash,
)

# Sources where the person acts for themselves, even without an account (a visitor, a link).
SELF_SOURCES = frozenset(
    {
        Source.PREFERENCE_CENTRE,
        Source.BANNER,
        Source.OPT_OUT_SHARING,
        Source.UNSUBSCRIBE,
        Source.SMS_STOP,
        Source.GPC,
        Source.SIGNUP,
    }
)


class ConsentError(Exception):
    """A change that cannot be made; ``code`` says why (for a 4xx answer)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


def gpc_signal(request: HttpRequest | None) -> bool:
    """Return whether the request carries a Global Privacy Control signal (``Sec-GPC: 1``)."""
    return request is not None and request.headers.get("Sec-GPC", "").strip() == "1"


# --- subjects ---------------------------------------------------------------------------------


def subject_of_user(user: User) -> ConsentSubject:
    """Return the account's subject for reading, without creating or adopting one: pages and
    downloads (GET) write nothing. A person who never made a choice gets an unsaved subject,
    which reads as the defaults."""
    subject = ConsentSubject.objects.filter(user=user, visitor_id__isnull=True).first()
    if subject is not None:
        return subject
    by_email = ConsentSubject.objects.filter(
        email_hash=email_hash(user.email), user__isnull=True, visitor_id__isnull=True
    ).first()
    return by_email if by_email is not None else ConsentSubject(user=user)


def subject_for_user(user: User) -> ConsentSubject:
    """Return the account's own subject, creating it (and adopting a subject that knew the
    person only by e-mail, such as a trade-show contact) if needed."""
    subject = ConsentSubject.objects.filter(user=user, visitor_id__isnull=True).first()
    if subject is not None:
        return subject
    with transaction.atomic():
        by_email = (
            ConsentSubject.objects.select_for_update()
            .filter(email_hash=email_hash(user.email), user__isnull=True, visitor_id__isnull=True)
            .first()
        )
        if by_email is not None:
            by_email.user = user
            by_email.save(update_fields=["user"])
            consent_current_forget(user.pk)
            return by_email
        try:
            with transaction.atomic():
                return ConsentSubject.objects.create(user=user)
        except IntegrityError:
            return ConsentSubject.objects.get(user=user, visitor_id__isnull=True)


def subject_for_email(email: str) -> ConsentSubject:
    """Return the subject for a person known by ``email``: their account's if they have one,
    otherwise one that holds only a keyed hash of the address (get or create)."""
    user = User.objects.filter(email__iexact=normalise_email(email)).first()
    if user is not None:
        return subject_for_user(user)
    subject, _created = ConsentSubject.objects.get_or_create(email_hash=email_hash(email))
    return subject


def subject_for_visitor(visitor_id: uuid.UUID) -> ConsentSubject:
    """Return the subject of an anonymous banner visitor (get or create)."""
    subject, _created = ConsentSubject.objects.get_or_create(visitor_id=visitor_id)
    return subject


def _visitor_locked(visitor_id: uuid.UUID) -> ConsentSubject:
    """Return the subject of a banner visitor, created if new, with its row locked for the
    rest of the transaction, race-free without a savepoint."""
    subject = _visitor_insert(visitor_id)
    if subject is not None:
        return subject
    return ConsentSubject.objects.select_for_update().get(visitor_id=visitor_id)


def _visitor_insert(visitor_id: uuid.UUID) -> ConsentSubject | None:
    """Insert the visitor's subject unless it exists. Return it if this transaction inserted
    it: the row is then this transaction's own until it commits (a concurrent insert of the
    same id waits for it, then finds it), so a new visitor, most saves, costs one statement on
    PostgreSQL."""
    if connection.vendor != "postgresql":
        ConsentSubject.objects.bulk_create(
            [ConsentSubject(visitor_id=visitor_id)], ignore_conflicts=True
        )
        return None
    subject = ConsentSubject(visitor_id=visitor_id, created_at=timezone.now())
    fields, sql = _visitor_insert_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, insert_params(subject, fields))
        row = cursor.fetchone()
    return None if row is None else mark_saved(subject, row[0])


@functools.cache
def _visitor_insert_sql() -> tuple[tuple[Field[Any, Any], ...], str]:
    fields, target, row = insert_into(ConsentSubject)
    return fields, (  # names from the model's metadata; every value is a parameter
        f"INSERT INTO {target} VALUES {row} "  # noqa: S608  # nosec B608
        f"ON CONFLICT ({quoted_column(ConsentSubject, 'visitor_id')}) DO NOTHING "
        f"RETURNING {quoted_column(ConsentSubject, 'id')}"
    )


# --- the ledger -------------------------------------------------------------------------------


def _actor(subject: ConsentSubject, actor: Any, source: str) -> tuple[str, int | None]:
    if isinstance(actor, ApiClient):
        return ActorType.API, actor.pk
    if isinstance(actor, User):
        if actor.pk == subject.user_id and source != Source.STAFF:
            return ActorType.SUBJECT, actor.pk
        return ActorType.STAFF if actor.is_staff else ActorType.SUBJECT, actor.pk
    return (ActorType.SUBJECT if source in SELF_SOURCES else ActorType.SYSTEM), None


def _purpose(cat: Catalogue, key: str) -> PurposeInfo:
    purpose = cat.by_key.get(key)
    if purpose is None:
        raise ConsentError(
            "unknown_purpose", _("Unknown purpose: %(key)s") % {"key": repr(key[:48])}
        )
    if not purpose.switchable:
        raise ConsentError(
            "not_switchable", _("“%(purpose)s” cannot be switched on or off.") % {"purpose": key}
        )
    return purpose


def consent_record_many(
    *,
    subject: ConsentSubject,
    choices: Mapping[str, bool],
    source: str,
    actor: Any,
    request: HttpRequest | None = None,
    note: str = "",
    evidence: Mapping[str, Any] | None = None,
    language: str | None = None,
    policy_version: int | None = None,
    sources: Mapping[str, str] | None = None,
) -> list[ConsentEvent]:
    """Record several choices of one subject at once (the banner, "stop all marketing").

    ``sources`` may give a purpose its own source (the banner records a category that Global
    Privacy Control switched off with source ``gpc``). Raise :class:`ConsentError` for an
    unknown purpose, one that cannot be switched, or an unknown policy version.
    """
    if source not in Source.values:
        raise ConsentError("unknown_source")
    cat = catalogue()
    purposes = [(_purpose(cat, key), bool(granted)) for key, granted in choices.items()]
    if not purposes:
        return []
    with transaction.atomic():
        # One lock per subject serialises its changes: two tabs end in one consistent state.
        subject = ConsentSubject.objects.select_for_update().get(pk=subject.pk)
        return _record_locked(
            subject=subject,
            purposes=purposes,
            cat=cat,
            source=source,
            actor=actor,
            request=request,
            note=note,
            evidence=evidence,
            language=language,
            policy_version=policy_version,
            sources=sources,
        )


def _record_locked(
    *,
    subject: ConsentSubject,
    purposes: list[tuple[PurposeInfo, bool]],
    cat: Catalogue,
    source: str,
    actor: Any,
    request: HttpRequest | None,
    note: str = "",
    evidence: Mapping[str, Any] | None = None,
    language: str | None = None,
    policy_version: int | None = None,
    sources: Mapping[str, str] | None = None,
) -> list[ConsentEvent]:
    """Write the events and the current state of :func:`consent_record_many`, inside the
    caller's transaction, which holds the subject's row lock."""
    gpc = gpc_signal(request)
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    now = timezone.now()
    actor_type, actor_id = _actor(subject, actor, source)
    # The browser's traces are the person's evidence; staff or a system recording a choice the
    # person made elsewhere leave their own out (the actor says who recorded it).
    browser = request if actor_type not in (ActorType.STAFF, ActorType.API) else None
    common = {
        "subject": subject,
        "occurred_at": now,
        "ip_truncated": client_ip_truncated(browser) if browser is not None else "",
        "user_agent_hash": user_agent_hash(browser) if browser is not None else "",
        "actor_type": actor_type,
        "actor_id": actor_id,
        "note": note[:500],
    }
    events = []
    for purpose, granted in purposes:
        event_source = (sources or {}).get(purpose.key, source)
        if gpc and granted and purpose.honours_gpc:
            # The browser's Global Privacy Control signal wins over a grant made with it on.
            granted, event_source = False, Source.GPC
        shown_language, shown_hash = purpose.shown(language)
        policy = _policy_id(cat, purpose, policy_version)
        events.append(
            ConsentEvent(
                purpose_id=purpose.id,
                purpose_version_id=purpose.version_id,
                granted=granted,
                source=event_source,
                policy_version_id=policy,
                language=shown_language,
                text_hash=shown_hash,
                evidence={**(evidence or {}), **({"gpc": True} if gpc else {})},
                **common,
            )
        )
    _ledger_write(events)
    if subject.visitor_id is None:
        consent_current_forget(subject.user_id)
    withdrawn = [
        event.purpose_id
        for event in events
        if not event.granted and cat.by_id[event.purpose_id].double_opt_in
    ]
    if withdrawn:  # a withdrawal also cancels a grant still waiting for its confirmation
        PendingConfirmation.objects.filter(
            subject=subject, purpose_id__in=withdrawn, confirmed_at=None, cancelled_at=None
        ).update(cancelled_at=now)
    if actor_type in (ActorType.STAFF, ActorType.API) or source == Source.REQUEST:
        _audit_events(subject, events, actor, actor_type, source)
    _push_changes(subject, events, cat)
    return events


# The state columns an event sets; the state's key is (subject, purpose).
_STATE_FIELDS = ("purpose_version", "granted", "source", "event", "updated_at")


def _ledger_write(events: list[ConsentEvent]) -> None:
    """Insert ``events`` (one per purpose, of one subject) and upsert their current state.

    On PostgreSQL this is one precompiled statement (the events' ``INSERT`` feeding the state's
    upsert in a data-modifying ``WITH``): compiling the two through the ORM cost more than
    running them. Elsewhere (SQLite, for development) the ORM's two bulk statements do it."""
    if not events:
        return
    if connection.vendor == "postgresql":
        _ledger_write_sql(events)
    else:
        _ledger_write_orm(events)


def _ledger_write_orm(events: list[ConsentEvent]) -> None:
    ConsentEvent.objects.bulk_create(events)
    ConsentState.objects.bulk_create(
        [
            ConsentState(
                subject_id=event.subject_id,
                purpose_id=event.purpose_id,
                purpose_version_id=event.purpose_version_id,
                granted=event.granted,
                source=event.source,
                event=event,
                updated_at=event.occurred_at,
            )
            for event in events
        ],
        update_conflicts=True,
        unique_fields=["subject", "purpose"],
        update_fields=list(_STATE_FIELDS),
    )


@functools.cache
def _ledger_sql_parts() -> tuple[tuple[Field[Any, Any], ...], str, str]:
    """The event fields in column order, one row's placeholders, and the statement around
    them (``{rows}`` stands for the rows' placeholders)."""
    fields, events, row = insert_into(ConsentEvent)
    keys = ("subject", "purpose")
    # Each state column from the event's column of the same name, except these two.
    from_event = {"event": "id", "updated_at": "occurred_at"}
    state_columns = ", ".join(quoted_column(ConsentState, name) for name in (*keys, *_STATE_FIELDS))
    event_columns = ", ".join(
        quoted_column(ConsentEvent, from_event.get(name, name)) for name in (*keys, *_STATE_FIELDS)
    )
    updates = ", ".join(
        f"{quoted_column(ConsentState, name)} = EXCLUDED.{quoted_column(ConsentState, name)}"
        for name in _STATE_FIELDS
    )
    key = ", ".join(quoted_column(ConsentState, name) for name in keys)
    state_table = quoted_table(ConsentState)
    sql = (  # names from the models' metadata; every value is a parameter
        f"WITH e AS (INSERT INTO {events} VALUES {{rows}} RETURNING *), "  # noqa: S608  # nosec B608
        f"s AS (INSERT INTO {state_table} ({state_columns}) SELECT {event_columns} FROM e "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}) "
        f"SELECT {quoted_column(ConsentEvent, 'id')}, "
        f"{quoted_column(ConsentEvent, 'purpose')} FROM e"
    )
    return fields, row, sql


def _ledger_write_sql(events: list[ConsentEvent]) -> None:
    fields, row, sql = _ledger_sql_parts()
    params = [value for event in events for value in insert_params(event, fields)]
    with connection.cursor() as cursor:
        cursor.execute(sql.format(rows=", ".join([row] * len(events))), params)
        ids = {purpose_id: pk for pk, purpose_id in cursor.fetchall()}
    for event in events:  # one event per purpose (the state's key), in any order
        mark_saved(event, ids[event.purpose_id])


def _policy_id(cat: Catalogue, purpose: PurposeInfo, version: int | None) -> int | None:
    policy = cat.policy_for(purpose)
    if version is None or (policy is not None and policy.version == version):
        return policy.id if policy else None
    document = "cookie_policy" if purpose.kind == PurposeKind.COOKIE else "privacy_statement"
    found = (
        PolicyVersion.objects.filter(document=document, version=version)
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        raise ConsentError("unknown_policy_version")
    return found


def _audit_events(
    subject: ConsentSubject, events: list[ConsentEvent], actor: Any, actor_type: str, source: str
) -> None:
    for event in events:
        audit_record(
            actor=actor.pk if isinstance(actor, ApiClient) else actor,
            actor_type=AuditActorType.API if actor_type == ActorType.API else None,
            action="consent.recorded",
            target=event,
            scope=subject,
            after={
                "purpose_id": event.purpose_id,
                "granted": event.granted,
                "source": event.source,
            },
        )


def consent_record(
    *,
    subject: ConsentSubject,
    purpose_key: str,
    granted: bool,
    source: str,
    actor: Any,
    request: HttpRequest | None = None,
    note: str = "",
    evidence: Mapping[str, Any] | None = None,
    language: str | None = None,
) -> ConsentEvent:
    """Record one grant or withdrawal in the ledger and the current state, in one transaction.

    Every change goes through here: preference centre, banner, unsubscribe, GPC, staff, API,
    sign-up and data-subject requests (source ``request``). ``actor`` is the person acting
    (the subject or staff), an :class:`ApiClient`, or None (the anonymous visitor or system).
    """
    return consent_record_many(
        subject=subject,
        choices={purpose_key: granted},
        source=source,
        actor=actor,
        request=request,
        note=note,
        evidence=evidence,
        language=language,
    )[0]


def _granted_now(subject: ConsentSubject, keys: Iterable[str]) -> set[str]:
    cat = catalogue()
    ids = {cat.by_key[key].id: key for key in keys if key in cat.by_key}
    states = ConsentState.objects.filter(subject=subject, purpose_id__in=ids)
    found = {state.purpose_id: state.granted for state in states}
    pending = set(
        PendingConfirmation.objects.filter(
            subject=subject, purpose_id__in=ids, confirmed_at=None, cancelled_at=None
        ).values_list("purpose_id", flat=True)
    )
    return {
        key
        for pid, key in ids.items()
        if found.get(pid, cat.by_id[pid].by_default) or pid in pending
    }


def marketing_on(subject: ConsentSubject) -> set[str]:
    """The marketing channels that are on for ``subject`` (or waiting for its confirmation)."""
    return _granted_now(subject, [p.key for p in catalogue().of_kind(PurposeKind.MARKETING)])


def consent_stop_all_marketing(
    *,
    subject: ConsentSubject,
    source: str,
    actor: Any,
    request: HttpRequest | None = None,
    note: str = "",
    evidence: Mapping[str, Any] | None = None,
    every_channel: bool = False,
) -> list[ConsentEvent]:
    """Withdraw every marketing channel that is on (or waiting for confirmation); return the
    events recorded (none if everything was already off). With ``every_channel`` (the person
    said it to staff), also those off only because the person never chose: what they said is
    then on record for every channel, not just for those it changed."""
    cat = catalogue()
    keys = [purpose.key for purpose in cat.of_kind(PurposeKind.MARKETING)]
    with transaction.atomic():
        ConsentSubject.objects.select_for_update().get(pk=subject.pk)
        stopping = _granted_now(subject, keys)
        if every_channel:
            chosen = set(
                ConsentState.objects.filter(
                    subject=subject, purpose_id__in=[cat.by_key[key].id for key in keys]
                ).values_list("purpose__key", flat=True)
            )
            stopping |= {key for key in keys if key not in chosen}
        return consent_record_many(
            subject=subject,
            choices={key: False for key in keys if key in stopping},
            source=source,
            actor=actor,
            request=request,
            note=note,
            evidence=evidence,
        )


# --- double opt-in ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The outcome of :func:`consent_choose`: an event, or a grant waiting for confirmation."""

    event: ConsentEvent | None = None
    pending: PendingConfirmation | None = None


def consent_choose(
    *,
    subject: ConsentSubject,
    purpose_key: str,
    granted: bool,
    source: str,
    actor: Any,
    request: HttpRequest | None = None,
    note: str = "",
    evidence: Mapping[str, Any] | None = None,
    email: str = "",
    language: str | None = None,
) -> Choice:
    """Apply a person's choice: record it, or, for a grant of a purpose with double opt-in or
    one staff recorded on the person's behalf, send a confirmation e-mail first (to ``email``
    or the account's address).

    Anyone can say on the phone that they are someone else: consent given that way counts
    once the person confirms it, and they learn of it either way (a withdrawal, which staff
    record at once, takes nothing from anyone)."""
    purpose = _purpose(catalogue(), purpose_key)
    if granted and (purpose.double_opt_in or source == Source.STAFF):
        return Choice(
            pending=consent_request_confirmation(
                subject=subject,
                purpose_key=purpose_key,
                source=source,
                email=email,
                language=language,
            )
        )
    event = consent_record(
        subject=subject,
        purpose_key=purpose_key,
        granted=granted,
        source=source,
        actor=actor,
        request=request,
        note=note,
        evidence=evidence,
        language=language,
    )
    return Choice(event=event)


def _address_of(subject: ConsentSubject, email: str) -> str:
    if email:
        return email
    if subject.user_id is not None:
        return User.objects.only("email").get(pk=subject.user_id).email
    raise ConsentError("email_required", _("An e-mail address is needed to confirm this choice."))


def consent_request_confirmation(
    *,
    subject: ConsentSubject,
    purpose_key: str,
    source: str,
    email: str = "",
    language: str | None = None,
) -> PendingConfirmation:
    """Ask the person to confirm a grant by e-mail (double opt-in); it counts once confirmed.

    Without ``language``, the e-mail is in the language of the page the person chose on, or,
    when staff or another system chose for them, in their account's."""
    purpose = _purpose(catalogue(), purpose_key)
    address = _address_of(subject, email)
    if not language and source in (Source.STAFF, Source.API) and subject.user_id is not None:
        language = (
            User.objects.filter(pk=subject.user_id)
            .values_list("preferred_language", flat=True)
            .first()
        )
    language = (language or translation.get_language() or settings.LANGUAGE_CODE)[:2]
    with transaction.atomic():
        now = timezone.now()
        PendingConfirmation.objects.filter(
            subject=subject, purpose_id=purpose.id, confirmed_at=None, cancelled_at=None
        ).update(cancelled_at=now)
        consent_current_forget(subject.user_id)
        pending = PendingConfirmation.objects.create(
            subject=subject,
            purpose_id=purpose.id,
            purpose_version_id=purpose.version_id,
            source=source,
            language=language,
            requested_at=now,
        )
        token = tokens.token_make(
            kind=tokens.CONFIRM,
            subject_id=subject.pk,
            purpose_key=purpose.key,
            pending_id=pending.pk,
        )
        send_email_on_commit(
            # The newsletter's double opt-in, or a choice staff recorded for the person.
            template="consent/confirm" if purpose.double_opt_in else "consent/confirm_recorded",
            to=address,
            context={
                "purpose_title": purpose.title(language),
                "confirm_url": settings.PORTAL_BASE_URL + reverse("consent:confirm", args=[token]),
                "hours": settings.CONSENT_CONFIRMATION_MAX_AGE_HOURS,
            },
            language=language,
        )
    return pending


def consent_signup_opt_in(*, user: User) -> PendingConfirmation:
    """Ask a customer who ticked the newsletter box at sign-up to confirm it (double opt-in)."""
    return consent_request_confirmation(
        subject=subject_for_user(user),
        purpose_key="marketing_email",
        source=Source.SIGNUP,
        language=user.preferred_language,
    )


def _use_nonce(nonce: str, kind: str) -> None:
    try:
        with transaction.atomic():
            UsedToken.objects.create(nonce=nonce, kind=kind)
    except IntegrityError as error:
        raise tokens.TokenError("used") from error


def confirmation_language(link: tokens.LinkToken) -> str:
    """The language the confirmation e-mail of a double opt-in was written in."""
    language = (
        PendingConfirmation.objects.filter(pk=link.pending_id, subject_id=link.subject_id)
        .values_list("language", flat=True)
        .first()
        if link.pending_id is not None
        else None
    )
    return language or ""


def unsubscribe_pending(link: tokens.LinkToken) -> bool:
    """Whether the channel an unsubscribe link is bound to is on now (its page offers to
    unsubscribe, even when the link was used before and the person subscribed again)."""
    subject = ConsentSubject.objects.filter(pk=link.subject_id).first()
    return subject is not None and link.purpose_key in _granted_now(subject, [link.purpose_key])


def consent_confirmation_replaced(link: tokens.LinkToken) -> bool:
    """Whether the double opt-in a confirmation link is for was replaced since: by a newer
    request for the same choice, or by switching it off."""
    return (
        link.pending_id is not None
        and PendingConfirmation.objects.filter(
            pk=link.pending_id, subject_id=link.subject_id, cancelled_at__isnull=False
        ).exists()
    )


def consent_confirm(*, token: str, request: HttpRequest | None = None) -> ConsentEvent:
    """Confirm a double opt-in from its e-mail link: record the grant, then welcome the person
    with the first marketing e-mail (which carries the unsubscribe headers).

    Raise :class:`tokens.TokenError` for a tampered, expired, used or superseded link.
    """
    link = tokens.token_read(token, kind=tokens.CONFIRM)
    if link.pending_id is None:
        raise tokens.TokenError("invalid")
    with transaction.atomic():
        pending = (
            PendingConfirmation.objects.select_for_update()
            .filter(pk=link.pending_id, subject_id=link.subject_id)
            .first()
        )
        if pending is None:
            raise tokens.TokenError("invalid")
        if pending.cancelled_at is not None:
            # Asked for again since (a newer e-mail), or switched off.
            raise tokens.TokenError("replaced")
        _use_nonce(link.nonce, tokens.CONFIRM)
        pending.confirmed_at = timezone.now()
        pending.save(update_fields=["confirmed_at"])
        subject = ConsentSubject.objects.get(pk=link.subject_id)
        event = consent_record(
            subject=subject,
            purpose_key=link.purpose_key,
            granted=True,
            source=pending.source,
            actor=None,
            request=request,
            language=pending.language,
            evidence={
                "double_opt_in": {
                    "requested_at": pending.requested_at.isoformat(),
                    "confirmed_at": pending.confirmed_at.isoformat(),
                }
            },
        )
        if not _purpose(catalogue(), link.purpose_key).double_opt_in:
            return event  # a choice staff recorded for the person: nothing to welcome them to
        suppression_lift_for(subject=subject, channel=Channel.EMAIL)
        if subject.user_id is not None:
            from .marketing import marketing_email_send

            user = User.objects.get(pk=subject.user_id)
            marketing_email_send(
                subject=subject,
                to=user.email,
                template="consent/welcome",
                context={"first_name": user.first_name},
                language=pending.language,
            )
    return event


# --- unsubscribe and suppression --------------------------------------------------------------


def consent_unsubscribe(*, token: str, request: HttpRequest | None = None) -> ConsentEvent | None:
    """Withdraw the channel an unsubscribe link is bound to (no sign-in, no cookies). Return
    the event, or None when the channel was already off. Raise :class:`tokens.TokenError` for a
    tampered or expired link, and for one already used while the channel is still off (a retry:
    nothing to do). A link used before still unsubscribes a channel that is on again: whoever
    clicks "unsubscribe" in an older e-mail after subscribing again means it."""
    link = tokens.token_read(token, kind=tokens.UNSUBSCRIBE)
    purpose = catalogue().by_key.get(link.purpose_key)
    if purpose is None:
        raise tokens.TokenError("invalid")
    with transaction.atomic():
        subject = ConsentSubject.objects.select_for_update().filter(pk=link.subject_id).first()
        if subject is None:
            raise tokens.TokenError("invalid")
        on = purpose.key in _granted_now(subject, [purpose.key])
        try:
            _use_nonce(link.nonce, tokens.UNSUBSCRIBE)
        except tokens.TokenError:
            if not on:
                raise
        if not on:
            return None
        return consent_record(
            subject=subject,
            purpose_key=purpose.key,
            granted=False,
            source=Source.UNSUBSCRIBE,
            actor=None,
            request=request,
            evidence={"via": "link"},
        )


def suppression_add(
    *, channel: str, address_hash: str, reason: str, told_on: date | None = None
) -> None:
    """Put an address (by keyed hash) on the suppression list of ``channel``; ``told_on``, the
    day the person told Inper, where staff record it later."""
    SuppressionEntry.objects.get_or_create(
        channel=channel, address_hash=address_hash, defaults={"reason": reason, "told_on": told_on}
    )


def suppression_lift_for(*, subject: ConsentSubject, channel: str) -> None:
    """Take the subject's address off the list after a new, confirmed grant."""
    hashes = {subject.email_hash} if subject.email_hash else set()
    if subject.user_id is not None:
        hashes.add(email_hash(User.objects.only("email").get(pk=subject.user_id).email))
    if hashes:
        SuppressionEntry.objects.filter(channel=channel, address_hash__in=hashes).delete()


def suppression_has(*, channel: str, address: str) -> bool:
    """Return whether ``address`` must not receive marketing on ``channel``."""
    return SuppressionEntry.objects.filter(
        channel=channel, address_hash=suppression_hash(channel, address)
    ).exists()


#: The marketing channels a phone number alone reaches, with their suppression lists.
PHONE_CHANNELS = {"marketing_sms": Channel.SMS, "marketing_phone": Channel.PHONE}


def _stop_number(
    *,
    phone: str,
    keys: list[str],
    reason: str,
    source: str,
    actor: Any,
    request: HttpRequest | None = None,
    note: str = "",
    evidence: Mapping[str, Any] | None = None,
) -> tuple[list[ConsentEvent], int]:
    """Put ``phone`` on the suppression list of each channel of ``keys`` (by keyed hash only)
    and withdraw those purposes for every account with that number; return the events
    recorded and how many accounts have the number. In the caller's transaction."""
    for key in keys:
        channel = PHONE_CHANNELS[key]
        suppression_add(
            channel=channel,
            address_hash=suppression_hash(channel, phone),
            reason=reason,
            told_on=told_before(evidence, timezone.localdate()),
        )
    events: list[ConsentEvent] = []
    accounts = list(User.objects.filter(phone=phone.strip()))
    for user in accounts:
        consent_current_forget(user.pk)  # its answer names the number suppressed now
        subject = subject_for_user(user)
        on = _granted_now(subject, keys)
        events += consent_record_many(
            subject=subject,
            choices={key: False for key in keys if key in on},
            source=source,
            actor=actor,
            request=request,
            note=note,
            evidence=evidence,
        )
    return events, len(accounts)


def consent_stop_by_phone(
    *,
    phone: str,
    purpose_keys: Iterable[str],
    actor: Any,
    request: HttpRequest | None = None,
    note: str = "",
    evidence: Mapping[str, Any] | None = None,
) -> list[ConsentEvent]:
    """Stop text messages or calls to a number a person gave by phone or in person, with no
    e-mail address (a trade-show contact): the number goes on each channel's suppression list
    (by keyed hash only), and every account with that number withdraws the consent. Return the
    events recorded (none if no account had it on)."""
    keys = [key for key in purpose_keys if key in PHONE_CHANNELS]
    with transaction.atomic():
        events, accounts = _stop_number(
            phone=phone,
            keys=keys,
            reason="staff",
            source=Source.STAFF,
            actor=actor,
            request=request,
            note=note,
            evidence=evidence,
        )
        audit_record(
            actor=actor,
            action="consent.number_suppressed",
            target=("consent.suppressionentry", "*"),
            after={"channels": [PHONE_CHANNELS[key].value for key in keys], "accounts": accounts},
        )
    return events


def consent_sms_inbound(*, phone: str, message_id: str, keyword: str) -> list[ConsentEvent]:
    """Note an inbound text message; a stop ``keyword`` withdraws SMS marketing for every
    account with that number and suppresses the number. Raise :class:`ConsentError`
    ("replayed") for a message id seen before."""
    from .models import InboundSms

    phone_hash = suppression_hash(Channel.SMS, phone)
    with transaction.atomic():
        try:
            with transaction.atomic():
                InboundSms.objects.create(
                    provider_message_id=message_id, phone_hash=phone_hash, keyword=keyword
                )
        except IntegrityError as error:
            raise ConsentError("replayed", _("This message was already processed.")) from error
        if not keyword:
            return []
        events, _accounts = _stop_number(
            phone=phone,
            keys=["marketing_sms"],
            reason="sms_stop",
            source=Source.SMS_STOP,
            actor=None,
            evidence={"via": "sms_stop", "keyword": keyword},
        )
        return events


# --- visitors, accounts and Global Privacy Control ------------------------------------------


def consent_link_visitor(
    *, user: User, visitor_id: uuid.UUID, request: HttpRequest | None = None
) -> list[ConsentEvent]:
    """Link a browser's banner choice to the account at sign-in: per cookie category the latest
    choice wins; the visitor's newer choices are recorded on the account."""
    visitor = ConsentSubject.objects.filter(visitor_id=visitor_id).first()
    if visitor is None or visitor.user_id not in (None, user.pk):
        # None, or the choices of whoever signed in on this browser before (a shared
        # computer): theirs, not this account's.
        return []
    account = subject_for_user(user)
    with transaction.atomic():
        ConsentSubject.objects.select_for_update().get(pk=account.pk)
        if visitor.user_id is None and visitor.pseudonymised_at is None:
            ConsentSubject.objects.filter(pk=visitor.pk).update(user=user)
        mine = {s.purpose_id: s for s in ConsentState.objects.filter(subject=account)}
        newer: dict[str, bool] = {}
        cat = catalogue()
        for state in ConsentState.objects.filter(
            subject=visitor, purpose_id__in=[p.id for p in cat.cookie_categories]
        ):
            current = mine.get(state.purpose_id)
            purpose = cat.by_id.get(state.purpose_id)
            if purpose is None or not purpose.switchable:
                continue
            if current is None or (
                current.updated_at < state.updated_at and current.granted != state.granted
            ):
                newer[purpose.key] = state.granted
        return consent_record_many(
            subject=account,
            choices=newer,
            source=Source.BANNER,
            actor=user,
            request=request,
            evidence={COPIED_FROM_VISITOR: visitor.pk},
        )


def consent_banner_save(
    *,
    visitor_id: uuid.UUID | None,
    choices: Mapping[str, bool],
    request: HttpRequest,
    language: str | None,
    account: User | None = None,
    policy_version: int | None = None,
    gpc: bool = False,
    source: Source = Source.BANNER,
) -> tuple[uuid.UUID, set[str]]:
    """Record a banner (or cookie settings page) choice under the browser's anonymous visitor
    id, and on the account too when the person is signed in. Categories that Global Privacy
    Control covers are recorded off with source ``gpc`` when the browser sends the signal.
    Return the visitor id (new if there was none, or if it is linked to an account other than
    the one signed in, or to any account when no one is) and the categories granted."""
    cat = catalogue()
    categories = {purpose.key for purpose in cat.cookie_categories if purpose.switchable}
    unknown = set(choices) - categories
    if unknown:
        raise ConsentError(
            "unknown_purpose",
            _("Not a cookie category: %(key)s") % {"key": sorted(unknown)[0][:48]},
        )
    gpc = gpc or gpc_signal(request)
    honoured = {key for key in choices if gpc and cat.by_key[key].honours_gpc}
    final = {key: granted and key not in honoured for key, granted in choices.items()}
    sources = dict.fromkeys(honoured, Source.GPC)
    purposes = [(cat.by_key[key], granted) for key, granted in final.items()]
    # One transaction with as few statements as the ledger allows: the visitor (inserted if
    # new, and locked), its events, its current state, the commit.
    with transaction.atomic():
        subject = _visitor_locked(visitor_id) if visitor_id else None
        if (
            visitor_id is None
            or subject is None
            or subject.pseudonymised_at is not None
            # A browser someone signed in on before (and signed out of, or another person
            # signed in since): their history must not show this person's choices.
            or subject.user_id not in (None, getattr(account, "pk", None))
        ):
            # A new id (or the old one's subject was erased): no one else can hold it.
            visitor_id = uuid.uuid4()
            subject = ConsentSubject.objects.create(visitor_id=visitor_id)
        _record_locked(
            subject=subject,
            purposes=purposes,
            cat=cat,
            source=source,
            actor=None,
            request=request,
            language=language,
            policy_version=policy_version,
            sources=sources,
        )
        if account is not None:
            if subject.user_id is None:
                ConsentSubject.objects.filter(pk=subject.pk).update(user=account)
            consent_record_many(
                subject=subject_for_user(account),
                choices=final,
                source=source,
                actor=account,
                request=request,
                # The same choice as the browser's, listed once in the person's history.
                evidence={ALSO_RECORDED_ON: subject.pk},
                language=language,
                policy_version=policy_version,
                sources=sources,
            )
    granted = {key for key, value in final.items() if value}
    return visitor_id, granted | {p.key for p in cat.cookie_categories if p.always_on}


def consent_honour_gpc(*, subject: ConsentSubject, request: HttpRequest) -> list[ConsentEvent]:
    """Withdraw every purpose that Global Privacy Control covers (sale, sharing, targeted
    advertising) and that is on, with source ``gpc``."""
    keys = [purpose.key for purpose in catalogue().purposes if purpose.honours_gpc]
    with transaction.atomic():
        ConsentSubject.objects.select_for_update().get(pk=subject.pk)
        on = _granted_now(subject, keys)
        return consent_record_many(
            subject=subject,
            choices={key: False for key in keys if key in on},
            source=Source.GPC,
            actor=None,
            request=request,
        )


# --- erasure ----------------------------------------------------------------------------------


def consent_subject_pseudonymise(*, subject: ConsentSubject, actor: Any) -> None:
    """Detach a person from the ledger for erasure: the subject (and the visitor subjects linked
    to the same account) lose their account link, visitor id and e-mail hash in favour of a
    keyed hash; ledger rows stay as proof. An address that had withdrawn from e-mail or SMS
    marketing goes on the suppression list first, so that it stays unsubscribed."""
    cat = catalogue()
    # In an erasure's transaction no savepoint: an error fails the whole erasure, as it should.
    with transaction.atomic(savepoint=False):
        subject = (
            ConsentSubject.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=subject.pk)
        )
        if subject.pseudonymised_at is not None:
            return  # already detached (with the account's other subjects, say)
        user = subject.user
        withdrawn = set(
            ConsentState.objects.filter(subject=subject, granted=False).values_list(
                "purpose_id", flat=True
            )
        )
        email_purposes = {p.id for p in cat.of_kind(PurposeKind.MARKETING) if p.channel == "email"}
        sms_purposes = {p.id for p in cat.of_kind(PurposeKind.MARKETING) if p.channel == "sms"}
        if withdrawn & email_purposes:
            hashes = {subject.email_hash} if subject.email_hash else set()
            if user is not None:
                hashes.add(email_hash(user.email))
            for address_hash in hashes:
                suppression_add(channel=Channel.EMAIL, address_hash=address_hash, reason="erasure")
        if withdrawn & sms_purposes and user is not None and user.phone:
            suppression_add(
                channel=Channel.SMS,
                address_hash=suppression_hash(Channel.SMS, user.phone),
                reason="erasure",
            )
        related = [subject]
        if user is not None:
            related += list(
                ConsentSubject.objects.select_for_update().filter(user=user).exclude(pk=subject.pk)
            )
        now = timezone.now()
        for row in related:
            consent_current_forget(row.user_id)
            identity = f"user:{row.user_id}|visitor:{row.visitor_id}|email:{row.email_hash}"
            row.pseudonym = keyed_hash(identity, purpose="consent-subject-erased")
            row.user = None
            row.visitor_id = None
            row.email_hash = None
            row.pseudonymised_at = now
            row.save(
                update_fields=["pseudonym", "user", "visitor_id", "email_hash", "pseudonymised_at"]
            )
            PendingConfirmation.objects.filter(subject=row, confirmed_at=None).update(
                cancelled_at=now
            )
            audit_record(actor=actor, action="consent.subject.pseudonymised", target=row)


# --- policies ---------------------------------------------------------------------------------


def policy_acknowledge(*, user: User, policy_version: PolicyVersion) -> None:
    """Note that ``user`` has seen the notice of a material policy change."""
    PolicyAcknowledgement.objects.get_or_create(user=user, policy_version=policy_version)


@transaction.atomic
def policy_publish(
    *,
    document: str,
    body: str,
    material: bool,
    summary: Mapping[str, str],
    actor: User,
    published_at: Any = None,
) -> PolicyVersion:
    """Publish a new version of the privacy statement or the cookie policy."""
    last = (
        PolicyVersion.objects.select_for_update()
        .filter(document=document)
        .order_by("-version")
        .first()
    )
    policy = PolicyVersion.objects.create(
        document=document,
        version=(last.version if last else 0) + 1,
        published_at=published_at or timezone.now(),
        material=material,
        summary=dict(summary),
        body=body,
        created_by_id=actor.pk,
    )
    audit_record(
        actor=actor,
        action="consent.policy.published",
        target=policy,
        after={"document": document, "version": policy.version, "material": material},
    )
    catalogue_invalidate()
    return policy


@transaction.atomic
def purpose_text_update(
    *,
    purpose_id: int,
    texts: Mapping[str, Mapping[str, str]],
    material: bool,
    change_summary: str,
    actor: User,
) -> bool:
    """Publish a new version of a purpose's text if it changed; return whether it did. A
    material change asks everyone who consented to an earlier text to choose again."""
    from .models import Purpose, PurposeVersion

    purpose = (
        Purpose.objects.select_for_update(of=("self",))
        .select_related("current_version")
        .get(pk=purpose_id)
    )
    current = purpose.current_version
    new_texts = {lang: dict(fields) for lang, fields in texts.items()}
    if current is not None and current.texts == new_texts:
        return False
    version = PurposeVersion.objects.create(
        purpose=purpose,
        version=(current.version if current else 0) + 1,
        texts=new_texts,
        material=material,
        change_summary=change_summary,
        created_by_id=actor.pk,
    )
    purpose.current_version = version
    purpose.save(update_fields=["current_version"])
    audit_record(
        actor=actor,
        action="consent.purpose.new_version",
        target=version,
        scope=purpose,
        after={"version": version.version, "material": material},
    )
    catalogue_invalidate()
    return True


# --- pushes to other systems ------------------------------------------------------------------


def _push_changes(subject: ConsentSubject, events: list[ConsentEvent], cat: Catalogue) -> None:
    """Queue a signed webhook delivery per subscription (on commit). Anonymous visitors' banner
    choices are not pushed: no other system can match them to anyone."""
    if subject.visitor_id is not None and subject.user_id is None:
        return
    subscriptions = _active_subscriptions()
    if not subscriptions:
        return
    from .tasks import consent_webhook_deliver_task

    for subscription in subscriptions:
        wanted = [
            event.pk
            for event in events
            if not subscription.kinds or cat.by_id[event.purpose_id].kind in subscription.kinds
        ]
        if wanted:
            delivery = WebhookDelivery.objects.create(
                subscription=subscription, event_ids=wanted, next_attempt_at=timezone.now()
            )
            consent_webhook_deliver_task.delay_on_commit(delivery.pk)  # type: ignore[attr-defined]


def _active_subscriptions() -> list[WebhookSubscription]:
    return list(WebhookSubscription.objects.filter(is_active=True, client__is_active=True))
