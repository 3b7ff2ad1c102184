"""Reads of consent, shaped for the pages and the API that show them. Every read of a person's
choices uses the current state (one row per subject and purpose), never the ledger."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from privacy_portal.cache import MISSING, StampedEntry, stamps_renew
from privacy_portal.pseudonymise import email_hash, keyed_hash, normalise_email

from .catalogue import GENERATION_KEY, Catalogue, PurposeInfo, catalogue, catalogue_generation
from .models import (
    SOURCE_FOR_PERSON,
    Channel,
    ConsentEvent,
    ConsentState,
    ConsentSubject,
    LegalBasis,
    PendingConfirmation,
    PolicyAcknowledgement,
    PolicyDocument,
    PolicyVersion,
    PurposeKind,
    Source,
    SuppressionEntry,
)


@dataclass(frozen=True)
class PurposeChoice:
    """One purpose as the person sees it: what it is, on what basis, and where they stand."""

    purpose: PurposeInfo
    granted: bool  # what counts now
    status: str  # granted, withdrawn, default, pending, renew, always
    decided_at: datetime | None
    source: str
    version: int | None  # the version the choice was made on
    version_id: int | None

    @property
    def key(self) -> str:
        return self.purpose.key

    @property
    def outdated(self) -> bool:
        """The choice was made on an earlier text than the one shown now."""
        return self.version is not None and self.version < self.purpose.version

    @property
    def title(self) -> str:
        return self.purpose.title()

    @property
    def description(self) -> str:
        return self.purpose.description()

    @property
    def legal_basis_label(self) -> str:
        return str(LegalBasis(self.purpose.legal_basis).label)

    @property
    def source_label(self) -> str:
        if not self.source:
            return ""
        return str(SOURCE_FOR_PERSON.get(self.source) or Source(self.source).label)

    @property
    def staff_source_label(self) -> str:
        """How the choice was made, as staff read it ("Staff", not "Our staff")."""
        return str(Source(self.source).label) if self.source else ""

    @property
    def is_objection(self) -> bool:
        return self.purpose.is_objection


def consent_current(
    subject: ConsentSubject | None, *, kinds: tuple[str, ...] | None = None
) -> list[PurposeChoice]:
    """Return the current choice for every active purpose (in catalogue order), with defaults
    for purposes the subject never decided on. A consent given on a text that has since
    changed materially shows as ``renew`` and does not count."""
    cat = catalogue()
    states: dict[int, ConsentState] = {}
    pending: set[int] = set()
    if subject is not None and subject.pk:
        states = {state.purpose_id: state for state in ConsentState.objects.filter(subject=subject)}
        pending = _pending(cat, PendingConfirmation.objects.filter(subject=subject))
    return _choices(cat, states, pending, kinds)


# An account's current state rows ('s'), its grants waiting for confirmation ('p') and the
# account's row ('u', with the e-mail address and phone number its suppressions are kept under),
# in one statement written once (the ORM would build and compile the union on every call). Each
# part is an index lookup: the subject by account, then the state's and the confirmation's rows
# by subject.
_CUSTOMER_ROWS_SQL = """
SELECT 's' AS row_kind, st.id, st.subject_id, st.purpose_id, st.purpose_version_id, st.granted,
    st.source, st.updated_at, NULL AS email, NULL AS phone
FROM consent_consentstate st JOIN consent_consentsubject su ON su.id = st.subject_id
WHERE su.user_id = %s AND su.visitor_id IS NULL
UNION ALL
SELECT 'p', NULL, pc.subject_id, pc.purpose_id, NULL, NULL, NULL, NULL, NULL, NULL
FROM consent_pendingconfirmation pc JOIN consent_consentsubject su ON su.id = pc.subject_id
WHERE su.user_id = %s AND su.visitor_id IS NULL AND pc.confirmed_at IS NULL
    AND pc.cancelled_at IS NULL
UNION ALL
SELECT 'u', NULL, NULL, NULL, NULL, NULL, NULL, NULL, email, phone FROM accounts_user WHERE id = %s
"""


#: The largest id a row can have (a signed 64-bit integer, in PostgreSQL as in SQLite).
_LARGEST_ID = 2**63 - 1


@dataclass(frozen=True)
class CustomerConsent:
    """What the consent API answers about an account."""

    subject_id: int | None
    choices: list[PurposeChoice]
    #: The channels on which the account's address or number is on the suppression list.
    suppressed: list[str]


def consent_current_for_customer(
    customer_id: int, *, cat: Catalogue | None = None
) -> CustomerConsent | None:
    """Return the account's subject id, :func:`consent_current` and its suppressed channels,
    or None if there is no such account (for the API).

    One statement (:data:`_CUSTOMER_ROWS_SQL`), whatever the size of the ledger, and one for
    the suppression list.
    """
    if not 0 < customer_id <= _LARGEST_ID:
        return None  # no account has it (and the database could not compare it)
    cat = cat or catalogue()
    with_pending = any(purpose.double_opt_in for purpose in cat.purposes)
    rows = ConsentState.objects.raw(_CUSTOMER_ROWS_SQL, [customer_id] * 3)
    states: dict[int, ConsentState] = {}
    pending: set[int] = set()
    subject_id = None
    account = None
    for row in rows:
        kind = row.row_kind  # type: ignore[attr-defined]
        if kind == "u":
            account = row
        elif kind == "p":
            if with_pending:
                pending.add(row.purpose_id)
            subject_id = row.subject_id
        else:
            states[row.purpose_id] = row
            subject_id = row.subject_id
    if account is None:
        return None
    return CustomerConsent(
        subject_id,
        _choices(cat, states, pending, None),
        suppressed_channels(email=account.email, phone=account.phone),  # type: ignore[attr-defined]
    )


def suppression_hash(channel: str, address: str) -> str:
    """Return the keyed hash under which ``address`` is suppressed on ``channel``."""
    if channel == Channel.EMAIL:
        return email_hash(address)
    return keyed_hash(address.strip(), purpose=f"suppression-{channel}")


def suppressed_since(*, email: str = "", phone: str = "") -> dict[str, SuppressionEntry]:
    """Return, for each channel on whose suppression list ``email`` (e-mail) or ``phone``
    (text messages, calls) is, its entry (since when), in the order of :class:`Channel`."""
    addresses = [(Channel.EMAIL, email), (Channel.SMS, phone), (Channel.PHONE, phone)]
    wanted = [
        Q(channel=channel, address_hash=suppression_hash(channel, address))
        for channel, address in addresses
        if address
    ]
    if not wanted:
        return {}
    suppressed = {
        entry.channel: entry for entry in SuppressionEntry.objects.filter(reduce(or_, wanted))
    }
    return {channel.value: suppressed[channel] for channel in Channel if channel in suppressed}


def marketing_choices_of(
    *, email: str = "", phone: str = ""
) -> list[tuple[ConsentSubject, PurposeChoice]]:
    """The marketing choices recorded for an address, for support's do-not-contact check: of
    the account or contact with the e-mail address ``email``; for a phone number, the text
    message and call choices of the accounts with that number. Choices never made are left
    out (they are the defaults, not something the person said)."""
    from .services import PHONE_CHANNELS

    if email:
        found = subject_find(email=email)
        subjects = [found] if found is not None else []
    else:
        subjects = list(
            ConsentSubject.objects.filter(
                user__phone=phone.strip(), visitor_id__isnull=True
            ).order_by("pk")[:20]
        )
    return [
        (subject, choice)
        for subject in subjects
        for choice in consent_current(subject, kinds=(PurposeKind.MARKETING,))
        if choice.decided_at is not None and (email or choice.key in PHONE_CHANNELS)
    ]


def suppressed_channels(*, email: str = "", phone: str = "") -> list[str]:
    """Return the channels on whose suppression list ``email`` or ``phone`` is
    (:func:`suppressed_since`)."""
    return list(suppressed_since(email=email, phone=phone))


CURRENT_CACHE_SECONDS = 300


def _current_entry(customer_id: int) -> StampedEntry:
    # The answer as JSON, under the stamp the answer had when it was kept as a dictionary: while
    # a deployment replaces processes that keep the dictionary, a change made by either kind
    # makes both kinds of answer stale.
    return StampedEntry(
        f"consent:current-json:{customer_id}",
        CURRENT_CACHE_SECONDS,
        stamp=f"consent:current:{customer_id}:stamp",
    )


def consent_current_keys(customer_id: int) -> list[str]:
    """The cache keys :func:`consent_current_document` reads (to fetch them early, with the
    API token's, in one round trip)."""
    return [GENERATION_KEY, *_current_entry(customer_id).keys()]


def consent_current_document(
    customer_id: int, *, prefetched: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """Return the consent API's answer for an account (None if there is no such account).

    It is kept in the shared cache, as the JSON the API sends, until the account's consent or
    the catalogue changes (:func:`consent_current_forget`, a new catalogue generation), so that
    reads, by far the most frequent request of Inper's other systems, need no database query
    and no rendering (:mod:`consent.api.fastpath`); a read that misses costs one query.
    """
    from .serialisers import choice_dict, document_json

    found = (
        prefetched if prefetched is not None else cache.get_many(consent_current_keys(customer_id))
    )
    cached = consent_current_cached(customer_id, found)
    if cached is not None:
        document: dict[str, Any] = json.loads(cached)
        return document
    generation = found.get(GENERATION_KEY)
    cat = catalogue(generation)
    current = consent_current_for_customer(customer_id, cat=cat)
    if current is None:
        return None
    document = {
        "subject_id": current.subject_id,
        "customer_id": customer_id,
        "suppressed": current.suppressed,
        "purposes": [choice_dict(choice) for choice in current.choices],
    }
    _current_entry(customer_id).store(found, (catalogue_generation(), document_json(document)))
    return document


def consent_current_cached(customer_id: int, found: Mapping[str, Any]) -> bytes | None:
    """Return the account's cached answer, as the API's JSON, from the keys of
    :func:`consent_current_keys` as read from the cache, or None if it is not there or no
    longer current."""
    generation = found.get(GENERATION_KEY)
    cached = _current_entry(customer_id).value(found)
    if generation is not None and cached is not MISSING and cached[0] == generation:
        body: bytes = cached[1]
        return body
    return None


def consent_current_forget(user_id: int | None) -> None:
    """Make the cached answer of an account stale, now and once the transaction commits."""
    if user_id is not None:
        stamps_renew([_current_entry(user_id)])


def _pending(cat: Catalogue, confirmations: QuerySet[PendingConfirmation]) -> set[int]:
    if not any(purpose.double_opt_in for purpose in cat.purposes):
        return set()
    return set(
        confirmations.filter(confirmed_at=None, cancelled_at=None).values_list(
            "purpose_id", flat=True
        )
    )


def _choices(
    cat: Catalogue,
    states: dict[int, ConsentState],
    pending: set[int],
    kinds: tuple[str, ...] | None,
) -> list[PurposeChoice]:
    return [
        _choice(cat, purpose, states.get(purpose.id), purpose.id in pending)
        for purpose in cat.purposes
        if kinds is None or purpose.kind in kinds
    ]


def _choice(
    cat: Catalogue, purpose: PurposeInfo, state: ConsentState | None, pending: bool
) -> PurposeChoice:
    if purpose.always_on:
        return PurposeChoice(purpose, True, "always", None, "", None, None)
    if state is None:
        status = "pending" if pending else "default"
        return PurposeChoice(purpose, purpose.by_default, status, None, "", None, None)
    version = _version_number(cat, purpose, state.purpose_version_id)
    counts = purpose.counts(granted=state.granted, version=version)
    if pending and not state.granted:
        status = "pending"
    elif not counts:
        status = "renew"
    else:
        status = "granted" if state.granted else "withdrawn"
    return PurposeChoice(
        purpose,
        state.granted and counts,
        status,
        state.updated_at,
        state.source,
        version,
        state.purpose_version_id,
    )


def _version_number(cat: Catalogue, purpose: PurposeInfo, version_id: int) -> int:
    if version_id == purpose.version_id:
        return purpose.version
    from .models import PurposeVersion

    return int(PurposeVersion.objects.values_list("version", flat=True).get(pk=version_id))


def consent_granted(subject: ConsentSubject | None, purpose_key: str) -> bool:
    """Return whether ``purpose_key`` counts as granted for ``subject`` now."""
    for choice in consent_current(subject):
        if choice.key == purpose_key:
            return choice.granted
    return False


def consent_events(subject: ConsentSubject) -> QuerySet[ConsentEvent]:
    """Return the subject's ledger events, oldest first (the history, for access exports)."""
    return (
        ConsentEvent.objects.filter(subject=subject)
        .select_related("purpose", "purpose_version", "policy_version")
        .order_by("id")
    )


#: The evidence key of an account's event copied from a browser's choice at sign-in (the
#: browser's subject).
COPIED_FROM_VISITOR = "linked_from_visitor"
#: The evidence key of an event that repeats, on a second subject, a choice recorded in the
#: same step on another (the banner used signed in records it on the browser and on the
#: account; a request's cookie withdrawal on the account and in the browser): that subject.
ALSO_RECORDED_ON = "also_recorded_on"


def _points_to(key: str, subjects: list[int]) -> Q:
    """Events whose evidence names one of ``subjects`` under ``key`` (the key is tested first:
    without it the comparison is NULL, and NOT NULL would drop the event too)."""
    return Q(evidence__has_key=key) & Q(**{f"evidence__{key}__in": subjects})


def consent_events_for_user(user: User) -> QuerySet[ConsentEvent]:
    """Return the events of the account and of the browsers linked to it, newest first, each
    choice once: an event that repeats one listed already (on the browser's subject, or the
    account's) is left out; the ledger keeps both."""
    subjects = list(ConsentSubject.objects.filter(user=user).values_list("pk", flat=True))
    return (
        ConsentEvent.objects.filter(subject_id__in=subjects)
        .exclude(_points_to(COPIED_FROM_VISITOR, subjects))
        .exclude(_points_to(ALSO_RECORDED_ON, subjects))
        .select_related("purpose", "purpose_version", "policy_version")
        .order_by("-id")
    )


def consent_events_since(cursor: int, *, limit: int) -> list[ConsentEvent]:
    """Return up to ``limit`` events after ``cursor`` (an event id), oldest first."""
    return list(
        ConsentEvent.objects.filter(pk__gt=cursor)
        .select_related("subject", "purpose", "purpose_version")
        .order_by("pk")[:limit]
    )


def subject_language(subject_id: int) -> str | None:
    """Return the language the person's e-mails are written in: their account's, else the
    language of their latest choice (None if neither is known)."""
    account_language = (
        ConsentSubject.objects.filter(pk=subject_id)
        .values_list("user__preferred_language", flat=True)
        .first()
    )
    if account_language:
        return str(account_language)
    latest: str | None = (
        ConsentEvent.objects.filter(subject_id=subject_id)
        .order_by("-id")
        .values_list("language", flat=True)
        .first()
    )
    return latest or None


def subject_find(*, email: str = "", customer_id: int | None = None) -> ConsentSubject | None:
    """Return the subject of an account (by customer id or e-mail) or of an e-mail-only
    contact, without creating one."""
    user: User | None = None
    if customer_id is not None:
        user = User.objects.filter(pk=customer_id).first()
        if user is None:
            return None
    elif email:
        user = User.objects.filter(email__iexact=normalise_email(email)).first()
    if user is not None:
        return ConsentSubject.objects.filter(user=user, visitor_id__isnull=True).first()
    if email:
        return ConsentSubject.objects.filter(email_hash=email_hash(email)).first()
    return None


def policy_versions(document: str) -> list[PolicyVersion]:
    """Return the published versions of a policy document, newest first."""
    return list(
        PolicyVersion.objects.filter(document=document, published_at__lte=timezone.now()).order_by(
            "-version"
        )
    )


#: How long the page of a policy opens with the notice of its latest material change.
MATERIAL_CHANGE_NOTICE_DAYS = 90


def policy_material_change(
    versions: list[PolicyVersion],
) -> tuple[PolicyVersion, PolicyVersion | None] | None:
    """Return the latest material change among ``versions`` (newest first) and the version it
    replaced, while it is recent enough for the prominent notice the privacy statement promises
    on the page itself (for everyone, signed in or not); else None."""
    since = timezone.now() - timedelta(days=MATERIAL_CHANGE_NOTICE_DAYS)
    for index, version in enumerate(versions):
        if version.material:
            if version.published_at < since:
                return None
            before = versions[index + 1] if index + 1 < len(versions) else None
            return version, before
    return None


def policy_notices(user: Any) -> list[PolicyVersion]:
    """Return the material policy changes published since ``user`` joined that they have not
    acknowledged yet, newest first."""
    if not getattr(user, "is_authenticated", False):
        return []
    seen = PolicyAcknowledgement.objects.filter(user=user).values("policy_version_id")
    return list(
        PolicyVersion.objects.filter(
            material=True, published_at__lte=timezone.now(), published_at__gt=user.date_joined
        )
        .exclude(pk__in=seen)
        .order_by("-published_at")
    )


def consent_to_renew(subject: ConsentSubject | None) -> list[PurposeChoice]:
    """Return the consents asked again because their text changed materially."""
    return [choice for choice in consent_current(subject) if choice.status == "renew"]


def cookie_policy_current() -> PolicyVersion | None:
    """Return the cookie policy in force."""
    return (
        PolicyVersion.objects.filter(
            document=PolicyDocument.COOKIE_POLICY, published_at__lte=timezone.now()
        )
        .order_by("-version")
        .first()
    )


def transfer_objections() -> QuerySet[ConsentState]:
    """Return the subjects who object to international transfers (for compliance)."""
    return ConsentState.objects.filter(
        purpose__key="international_transfers",
        purpose__kind=PurposeKind.PROCESSING,
        granted=False,
    ).select_related("subject", "event")
