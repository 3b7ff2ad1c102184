"""What data-subject requests need from the consent centre: the purposes a person may object to
or withdraw from, and recording those changes in the consent ledger."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from .models import DataSubjectRequest, RequestType


def _objectable() -> list[Any]:
    """The purposes a person can object to or withdraw from: every switchable one."""
    from consent.catalogue import catalogue

    return [purpose for purpose in catalogue().purposes if purpose.switchable]


def marketing_purposes() -> frozenset[str]:
    """Return the keys of direct-marketing purposes (objections to them need no review)."""
    from consent.catalogue import catalogue
    from consent.models import PurposeKind

    return frozenset(purpose.key for purpose in catalogue().of_kind(PurposeKind.MARKETING))


def known_purposes() -> frozenset[str]:
    """Return the keys of every purpose a person may object to or withdraw from."""
    return frozenset(purpose.key for purpose in _objectable())


def purposes_for(request_type: str) -> frozenset[str]:
    """The purposes a request of ``request_type`` may name: a consent is withdrawn from what
    is done with consent; an objection is to what is done in Inper's legitimate interest, and
    to direct marketing on any basis (GDPR Art. 21(2)). Other types name none."""
    from consent.models import LegalBasis, PurposeKind

    if request_type == "withdraw_consent":
        return frozenset(p.key for p in _objectable() if p.legal_basis == LegalBasis.CONSENT)
    if request_type == "objection":
        return frozenset(
            p.key
            for p in _objectable()
            if p.legal_basis == LegalBasis.LEGITIMATE_INTEREST or p.kind == PurposeKind.MARKETING
        )
    return frozenset()


def purposes_by_type() -> dict[str, frozenset[str]]:
    """:func:`purposes_for` each type of request that names purposes."""
    return {kind: purposes_for(kind) for kind in ("objection", "withdraw_consent")}


def purpose_types() -> dict[str, str]:
    """For each purpose, the request types that may name it (space-separated), for the form's
    script to offer only those."""
    allowed = purposes_by_type()
    return {
        key: " ".join(kind for kind, keys in allowed.items() if key in keys)
        for key in known_purposes()
    }


def wrong_purposes_message(
    request_type: str, purposes: Iterable[str], *, for_staff: bool = False
) -> str:
    """Say which of ``purposes`` a request of ``request_type`` cannot name, and what to ask
    for instead ("" if it can name them all); ``for_staff``: to staff recording it, in their
    words, not to the person."""
    wrong = sorted(set(purposes) & known_purposes() - purposes_for(request_type))
    if not wrong:
        return ""
    titles = dict(purpose_choices())
    names = ", ".join(f"“{titles.get(key, key)}”" for key in wrong)
    if for_staff:
        from .dashboard.labels import type_label

        if request_type == RequestType.WITHDRAW_CONSENT:
            return ngettext(
                "%(names)s does not rest on the person's consent but on Inper's legitimate "
                "interests: record an “%(other)s” instead.",
                "%(names)s do not rest on the person's consent but on Inper's legitimate "
                "interests: record an “%(other)s” instead.",
                len(wrong),
            ) % {"names": names, "other": type_label(RequestType.OBJECTION)}
        return ngettext(
            "%(names)s rests on the person's consent: record a “%(other)s” instead.",
            "%(names)s rest on the person's consent: record a “%(other)s” instead.",
            len(wrong),
        ) % {"names": names, "other": type_label(RequestType.WITHDRAW_CONSENT)}
    if request_type == RequestType.WITHDRAW_CONSENT:
        return ngettext(
            "%(names)s does not rest on your consent but on Inper's legitimate interests: "
            "to stop it, choose “%(other)s” instead.",
            "%(names)s do not rest on your consent but on Inper's legitimate interests: "
            "to stop them, choose “%(other)s” instead.",
            len(wrong),
        ) % {"names": names, "other": RequestType.OBJECTION.label}
    return ngettext(
        "%(names)s rests on your consent: to stop it, choose “%(other)s” instead.",
        "%(names)s rest on your consent: to stop them, choose “%(other)s” instead.",
        len(wrong),
    ) % {"names": names, "other": RequestType.WITHDRAW_CONSENT.label}


def purpose_choices() -> list[tuple[str, str]]:
    """Return (key, title in the current language) of those purposes; a cookie category says
    it is one ("Preferences" alone reads as anything)."""
    from consent.models import PurposeKind

    language = get_language()
    return [
        (
            purpose.key,
            _("Cookies: %(category)s") % {"category": purpose.title(language)}
            if purpose.kind == PurposeKind.COOKIE
            else purpose.title(language),
        )
        for purpose in _objectable()
    ]


def apply_consent_changes(request: DataSubjectRequest, purposes: Iterable[str]) -> list[Any]:
    """Record the withdrawals of ``purposes`` that an objection or consent withdrawal asks
    for, in the caller's transaction, so that the person sees the effect at once on their
    preference centre."""
    from consent.models import Source
    from consent.selectors import consent_current
    from consent.services import consent_record_many, subject_for_email, subject_for_user

    purposes = set(purposes)
    if request.type not in ("objection", "withdraw_consent") or not purposes:
        return []
    subject = (
        subject_for_user(request.user)
        if request.user is not None
        else subject_for_email(request.email)
    )
    # A use the person switched off themselves (the switch that filed this request) is not
    # recorded a second time: their history would list the one choice twice.
    withdrawn = {choice.key for choice in consent_current(subject) if choice.status == "withdrawn"}
    choices = {
        key: False for key in sorted(purposes) if key in known_purposes() and key not in withdrawn
    }
    if not choices:
        return []
    return consent_record_many(
        subject=subject,
        choices=choices,
        source=Source.REQUEST,
        actor=request.user,
        note=request.reference,
        language=request.language,
    )


def withdraw_in_browser(request: DataSubjectRequest, cookie: Any) -> Any:
    """Withdraw, for the browser a request was filed in, the cookie categories the request
    takes back: cookies are chosen per browser, so the account's ledger alone would leave
    them on here. ``cookie`` is the browser's banner choice (a ``BannerCookie``, or None).
    Return the cookie to store instead, or None if it needs no change."""
    from dataclasses import replace

    from consent.catalogue import catalogue
    from consent.models import ConsentSubject, Source
    from consent.selectors import ALSO_RECORDED_ON
    from consent.services import consent_record_many, subject_for_user

    from .models import RequestType

    categories = {purpose.key for purpose in catalogue().cookie_categories}
    # Whoever asks at this browser decides its cookies (the banner asks no one for more), also
    # while the rest of the withdrawal waits for their identity.
    if request.type != RequestType.WITHDRAW_CONSENT:
        return None
    withdrawn = set(request.purposes) & categories
    if cookie is None or not withdrawn & cookie.granted:
        return None
    visitor = ConsentSubject.objects.filter(
        visitor_id=cookie.visitor_id, pseudonymised_at__isnull=True
    ).first()
    # Not on a browser's record that belongs to another account (a shared computer): their
    # history must not show this person's choice.
    if visitor is not None and visitor.user_id in (None, request.user_id):
        # The account's ledger has the withdrawal too (apply_consent_changes): the person's
        # history lists it once.
        also = (
            {ALSO_RECORDED_ON: subject_for_user(request.user).pk}
            if request.user is not None
            else None
        )
        consent_record_many(
            subject=visitor,
            choices=dict.fromkeys(sorted(withdrawn), False),
            source=Source.REQUEST,
            actor=request.user,
            note=request.reference,
            evidence=also,
            language=request.language,
        )
    return replace(cookie, granted=cookie.granted - withdrawn)


def stop_marketing_for_closure(request: DataSubjectRequest, *, actor: Any) -> list[Any]:
    """Withdraw every marketing channel of the account being closed, in the caller's
    transaction: closing stops marketing at once, not when the erasure has been approved; and
    put the address on the suppression list (the account gives it up, so the erasure would
    no longer see it). A new, confirmed grant takes it off again."""
    from consent.models import Channel, Source
    from consent.services import consent_stop_all_marketing, subject_for_user, suppression_add
    from privacy_portal.pseudonymise import email_hash

    if request.user is None:
        return []
    events = consent_stop_all_marketing(
        subject=subject_for_user(request.user),
        source=Source.REQUEST,
        actor=actor,
        note=request.reference,
    )
    suppression_add(
        channel=Channel.EMAIL, address_hash=email_hash(request.email), reason="account_closed"
    )
    return events


def request_for_switch_off(purpose_key: str) -> str:
    """Return the request type a signed-in person's switching ``purpose_key`` off in their
    privacy choices files ("" for none), so that the systems registered as acting on it
    (stores naming it in ``purpose_keys``) stop too, and, for an objection, a compliance
    officer reviews it: an objection to a use resting on Inper's legitimate interest, a
    withdrawal of one resting on consent. Direct marketing and cookies need none: the consent
    webhooks and the banner carry them."""
    from consent.catalogue import catalogue
    from consent.models import PurposeKind

    from .models import DataStore, RequestType

    purpose = catalogue().by_key.get(purpose_key)
    if purpose is None or purpose.kind != PurposeKind.PROCESSING or not purpose.switchable:
        return ""
    configs = DataStore.objects.filter(enabled=True).values_list("config", flat=True)
    if not any(purpose_key in (config or {}).get("purpose_keys", ()) for config in configs):
        return ""
    return RequestType.OBJECTION if purpose.is_objection else RequestType.WITHDRAW_CONSENT


def file_for_switch_off(
    user: Any, purpose_key: str, request_type: str
) -> tuple[DataSubjectRequest, bool]:
    """File the request :func:`request_for_switch_off` named, for ``user`` (signed in, and
    re-authenticated for an objection), unless one of that type for the purpose is open;
    return it and whether it is new (a new withdrawal records the choice itself)."""
    from .models import Channel
    from .services import Intake, dsr_request_file

    open_one = _open_for(DataSubjectRequest.objects.filter(user=user), purpose_key, request_type)
    if open_one is not None:
        return open_one, False
    intake = Intake(
        type=request_type,
        email=user.email,
        channel=Channel.PORTAL,
        user=user,
        full_name=user.full_name,
        language=get_language() or "",
        purposes=(purpose_key,),
    )
    return dsr_request_file(intake=intake, actor=user), True


def _open_for(
    requests: QuerySet[DataSubjectRequest], purpose_key: str, request_type: str
) -> DataSubjectRequest | None:
    """The newest open request of ``request_type`` for ``purpose_key`` among ``requests``."""
    from .models import OPEN_STATES

    for open_one in requests.filter(type=request_type, state__in=OPEN_STATES).order_by("-pk"):
        if purpose_key in (open_one.purposes or ()):
            return open_one
    return None


#: The request channel of each way support received a choice (consent's ``RECEIVED_VIA``).
_STAFF_CHANNELS = {"phone": "phone", "email": "email", "in_person": "in_person", "letter": "post"}


def file_for_staff_switch_off(
    *,
    email: str,
    purpose_key: str,
    request_type: str,
    received_via: str,
    actor: Any,
    received_at: datetime | None = None,
) -> DataSubjectRequest:
    """File, for a switch-off support recorded on a person's behalf, the request
    :func:`request_for_switch_off` named, as the person's own switching off in the portal
    does, unless one of that type for the purpose is open for the address. Support did not
    check who called: the request waits for the person to confirm it from the e-mail it sends
    them, then tells the other systems (the choice itself counts at once). ``received_at`` is
    when the person told Inper, if not today (the request's deadline counts from it)."""
    from privacy_portal.pseudonymise import email_hash

    from .services import Intake, dsr_request_file

    mine = DataSubjectRequest.objects.filter(subject_key=email_hash(email))
    open_one = _open_for(mine, purpose_key, request_type)
    if open_one is not None:
        return open_one
    intake = Intake(
        type=request_type,
        email=email,
        channel=_STAFF_CHANNELS.get(received_via, "phone"),
        purposes=(purpose_key,),
        received_at=received_at,
    )
    return dsr_request_file(intake=intake, actor=actor)


def lift_for_switch_on(
    requests: QuerySet[DataSubjectRequest], purpose_key: str, *, actor: Any
) -> list[DataSubjectRequest]:
    """The person switched ``purpose_key`` on again: among ``requests`` (theirs), lift the
    marks that their objections to it or withdrawals of it set in Inper's other systems (the
    group CRM's, for transfers abroad), once none of the uses such a request stopped is still
    off for them. Return the requests whose lift started."""
    from .engine import still_objected
    from .models import LIFTABLE_STATES, Action, TaskState
    from .services import PER_PURPOSE_TYPES, dsr_objection_lift

    candidates = (
        requests.filter(
            type__in=PER_PURPOSE_TYPES,
            state__in=LIFTABLE_STATES,
            restriction_lift_started_at__isnull=True,
            tasks__action=Action.RESTRICT,
            tasks__state=TaskState.SUCCEEDED,
        )
        .distinct()
        .order_by("pk")
    )
    return [
        dsr_objection_lift(request=request, actor=actor)
        for request in candidates
        if purpose_key in (request.purposes or ()) and not still_objected(request)
    ]


def being_carried_out_for_switch_on(
    requests: QuerySet[DataSubjectRequest], purpose_key: str
) -> list[DataSubjectRequest]:
    """The person switched ``purpose_key`` on again: among ``requests`` (theirs), the
    objections to it or withdrawals of it still being carried out, none of whose uses is off
    for them now. What they restrict is lifted as soon as they are done (``services._finish``):
    the person is told so, not left to think they still run for nothing."""
    from .engine import still_objected
    from .models import State
    from .services import PER_PURPOSE_TYPES

    return [
        request
        for request in requests.filter(
            type__in=PER_PURPOSE_TYPES, state__in=(State.APPROVED, State.RUNNING, State.WAITING)
        ).order_by("pk")
        if purpose_key in (request.purposes or ()) and not still_objected(request)
    ]
