"""The one small interface every data-store connector implements.

A connector is built from a store's configuration and secrets, and answers five questions
about one data subject: where is their data (``locate``), give me a copy (``export``), remove
it (``erase``), stop processing it (``restrict``), and, where the store allows it, correct it
(``rectify``); plus ``health_check`` for the registry's "test connection".

Connectors take and return the plain frozen dataclasses below, never ORM objects, and signal
failure with exactly two exceptions:

- :class:`TemporaryStoreError`: worth retrying (timeout, connection refused, lock timeout);
- :class:`PermanentStoreError`: retrying will not help (bad configuration, refused
  credentials, unknown table); the task is flagged for staff.

Their messages must never contain personal data or secrets: they are shown to staff and stored.
An action that cannot finish at once (a task for staff, an asynchronous HTTP service) returns
:class:`Pending`; the task then waits until it is completed by :func:`dsr.services` callbacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any, ClassVar, Protocol

from django.utils.translation import gettext, gettext_noop, ngettext
from django_stubs_ext import StrOrPromise


class StoreError(Exception):
    """Base of the two errors a connector may raise. The message is shown to staff, and stored
    as it was said so that each reader gets it in their own language: the English text, marked
    for the catalogue with ``gettext_noop``, and its values apart, as keyword arguments
    (``TemporaryStoreError(gettext_noop("... %(n)d ..."), n=3)``). A text already translated
    is shown as it is."""

    def __init__(self, message: StrOrPromise, **params: Any) -> None:
        self.detail = error_detail(message, **params)
        super().__init__(self.detail["message"])

    def __str__(self) -> str:
        return error_text(self.detail)


class TemporaryStoreError(StoreError):
    """The store could not be reached or was busy; the action will be retried with backoff."""


class PermanentStoreError(StoreError):
    """The action cannot succeed as configured; staff must look at it before a retry."""


class ConfigurationError(PermanentStoreError):
    """The store's configuration is invalid (raised by ``validate_config`` and at run time)."""


def error_detail(message: StrOrPromise, **params: Any) -> dict[str, Any]:
    """Return an error as it is stored: the untranslated ``message`` and its ``params``
    (numbers stay numbers, everything else becomes text)."""
    values = {
        name: value
        if isinstance(value, int | float) and not isinstance(value, bool)
        else str(value)
        for name, value in params.items()
    }
    return {"message": str(message), "params": values}


def error_text(detail: Mapping[str, Any] | str | None, fallback: str = "") -> str:
    """Return a stored error in the active language; ``fallback`` if none is stored (an error
    recorded before errors were stored apart), and a text given as ``detail`` as it is."""
    if isinstance(detail, str):
        return detail
    if not detail or not detail.get("message"):
        return fallback
    message = str(detail["message"])
    params = detail.get("params") or {}
    text = gettext(message)
    if params:
        try:
            text = text % params
        except (KeyError, TypeError, ValueError):  # a translation that does not fit its values
            try:
                text = message % params
            except (KeyError, TypeError, ValueError):
                text = message
    attempts = detail.get("attempts")
    if attempts:
        text = ngettext(
            "%(error)s Gave up after %(n)d attempt.",
            "%(error)s Gave up after %(n)d attempts.",
            attempts,
        ) % {"error": text, "n": attempts}
    return text


def names_a_credential(query: Iterable[str], parts: Iterable[str]) -> bool:
    """Return True if one of a URL's query parameter names holds one of ``parts`` (such as
    ``?password=``). A configuration is shown back to staff in the registry, so credentials
    belong in the store's secrets, which are encrypted and never shown."""
    return any(part in name.lower() for name in query for part in parts)


@dataclass(frozen=True)
class Subject:
    """Who a request is about: the identities a store may be searched by.

    ``customer_id`` is the portal account's id when the person has one; ``email`` is always
    known (normalised to lower case); ``former_emails`` are the addresses the account had
    before (Inper's other systems know the person by the address they were given). Connectors
    use the identities their configuration names; searching by e-mail searches by all of them.
    """

    email: str
    customer_id: str | None = None
    phone: str | None = None
    order_numbers: tuple[str, ...] = ()
    name: str | None = None
    former_emails: tuple[str, ...] = ()

    @property
    def emails(self) -> tuple[str, ...]:
        """The person's address and the ones they had before, each once."""
        return tuple(dict.fromkeys(value for value in (self.email, *self.former_emails) if value))

    def identity(self, kind: str) -> tuple[str, ...]:
        """Return the values of one kind of identity ("email", "customer_id", ...)."""
        if kind == "order_number":
            return self.order_numbers
        if kind == "email":
            return self.emails
        value = getattr(self, kind, None)
        return (str(value),) if value else ()


@dataclass(frozen=True)
class LocateResult:
    """What a store holds about the subject: record counts per entity (table, model, folder)."""

    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def found(self) -> bool:
        return self.total > 0


@dataclass(frozen=True)
class ExportResult:
    """What was written to the package: record counts per entity, and files."""

    counts: Mapping[str, int] = field(default_factory=dict)
    files: int = 0


@dataclass(frozen=True)
class Retention:
    """Records kept despite an erasure, and why (named legal basis, until when).

    ``until`` is the day the last of them goes; ``first_until`` the day the first goes, where
    the store knows it (the same day when all go together; None: not known, as in receipts
    written before it was recorded)."""

    entity: str
    count: int
    basis: str
    until: date | None = None
    fields_kept: tuple[str, ...] = ()
    first_until: date | None = None


@dataclass(frozen=True)
class EraseResult:
    """The receipt of an erasure in one store.

    ``remaining`` is the check run after the erasure: for each entity, how many records that
    should be gone are still there (zero everywhere means nothing deletable is left).
    """

    deleted: Mapping[str, int] = field(default_factory=dict)
    anonymised: Mapping[str, int] = field(default_factory=dict)
    retained: tuple[Retention, ...] = ()
    remaining: Mapping[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not any(self.remaining.values())


@dataclass(frozen=True)
class RestrictResult:
    """Records marked as restricted (or, with ``lifted``, no longer restricted)."""

    counts: Mapping[str, int] = field(default_factory=dict)
    lifted: bool = False


@dataclass(frozen=True)
class RectifyResult:
    """Fields corrected, per entity."""

    counts: Mapping[str, int] = field(default_factory=dict)
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotifyResult:
    """A recipient was told about an erasure, rectification or restriction (GDPR Art. 19)."""

    reference: str = ""


@dataclass(frozen=True)
class PlannedErasure:
    """What an erasure would do to one entity (shown to officers before they approve)."""

    entity: str
    action: str  # "delete", "anonymise" or "retain"
    fields: tuple[str, ...] = ()
    basis: str = ""
    period: str = ""


def period_words(*, years: int = 0, months: int = 0, days: int = 0) -> str:
    """Return a retention period as the officer reads it, in their language ("10 years")."""
    parts = [
        ngettext("%(count)d year", "%(count)d years", years) % {"count": years} if years else "",
        ngettext("%(count)d month", "%(count)d months", months) % {"count": months}
        if months
        else "",
        ngettext("%(count)d day", "%(count)d days", days) % {"count": days} if days else "",
    ]
    return ", ".join(part for part in parts if part)


@dataclass(frozen=True)
class RetentionRun:
    """What applying a store's retention rule did (or, with ``dry_run``, would do)."""

    deleted: Mapping[str, int] = field(default_factory=dict)
    anonymised: Mapping[str, int] = field(default_factory=dict)
    dry_run: bool = False


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class TaskContext:
    """The store task an action runs for, given by the engine (None for reads outside a
    request, such as the "my data" overview or a health check).

    ``idempotency_key`` is the task's own key: a connector that calls another system sends it
    so that a repeated attempt is recognised there. Nothing here is personal data.
    """

    idempotency_key: str
    action: str
    request_reference: str = ""
    request_type: str = ""


@dataclass(frozen=True)
class Pending:
    """The action continues outside the worker: staff must complete a task (``manual``), or a
    service will call back (``callback``). ``instructions`` are shown to staff."""

    kind: str
    instructions: str = ""
    reference: str = ""


class ExportSink(Protocol):
    """Where a connector writes its part of an access package. Rows are streamed: the sink
    writes them as they come (JSON and CSV), so a connector never holds a whole table."""

    def table(
        self,
        entity: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        descriptions: Mapping[str, StrOrPromise] | None = None,
    ) -> int:
        """Write one entity's records; return how many were written. Give ``descriptions``
        lazily translated: the sink writes them in the language of the person's request."""

    def file(self, name: str, stream: IO[bytes], *, description: str = "") -> None:
        """Write one file (a photo, a document) as it is."""


ActionResult = (
    LocateResult
    | ExportResult
    | EraseResult
    | RestrictResult
    | RectifyResult
    | NotifyResult
    | Pending
)


#: Keys of a store's configuration that are the portal's, not the connector's: ``names`` (the
#: store's name by language, as the person reads it) and ``entity_names`` (what its tables or
#: entities are called, by language), see :mod:`dsr.texts`; and, for a recipient,
#: ``shared_from`` (the keys of the stores whose data Inper shares with it: it is told of a
#: request only if one of them held data about the person).
PORTAL_CONFIG_KEYS = frozenset({"names", "entity_names", "shared_from"})


def connector_config(config: Mapping[str, Any], *, check: bool = True) -> dict[str, Any]:
    """Return the part of a store's configuration that its connector reads, having checked
    (with ``check``) the portal's part: raise :class:`ConfigurationError` saying what is
    wrong."""
    if check:
        from ..texts import store_entity_names_parse, store_names_parse

        store_names_parse(config)
        store_entity_names_parse(config)
        shared_from = config.get("shared_from", [])
        if not isinstance(shared_from, list) or not all(
            isinstance(key, str) and 0 < len(key) <= 50 for key in shared_from
        ):
            raise ConfigurationError(
                gettext_noop('shared_from must list the keys of stores, for example ["shop"].')
            )
    return {key: value for key, value in config.items() if key not in PORTAL_CONFIG_KEYS}


class Connector:
    """Base class of connectors. Subclasses set ``kind`` and implement the actions they
    support; ``supports`` lists them so that the engine only plans what a store can do."""

    kind: ClassVar[str] = ""
    supports: ClassVar[frozenset[str]] = frozenset()
    #: Configuration keys whose values are secrets (encrypted at rest, never shown back).
    secret_keys: ClassVar[frozenset[str]] = frozenset()
    #: True if the store's data lives in the portal's own database: the engine then commits
    #: an erasure or a restriction and the task's receipt in one transaction.
    same_database: ClassVar[bool] = False

    def __init__(
        self,
        *,
        store_key: str,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
        context: TaskContext | None = None,
    ) -> None:
        self.store_key = store_key
        self.config = connector_config(config, check=False)
        self.secrets = dict(secrets)
        self.context = context

    @classmethod
    def validate_config(cls, config: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        """Raise :class:`ConfigurationError` with a clear message if the configuration is
        unusable (checked when staff save a store, before any request uses it)."""

    def health_check(self) -> HealthResult:
        """Return whether the store answers, with a short explanation for staff."""
        return HealthResult(True, "")

    def locate(self, subject: Subject) -> LocateResult:
        """Count the subject's records per entity. Read-only."""
        raise PermanentStoreError(
            gettext_noop("Stores of the kind %(kind)s cannot be searched."), kind=self.kind
        )

    @property
    def portability(self) -> bool:
        """True while exporting for a portability request (GDPR Art. 20): the copy then holds
        only what the person provided, given or observed from their use of Inper's services,
        not what Inper derived or keeps as its own record (see ``export``)."""
        return self.context is not None and self.context.request_type == "portability"

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult | Pending:
        """Write the subject's records and files to ``sink``; for a portability request
        (:attr:`portability`), only the entities and fields the person provided."""
        raise PermanentStoreError(
            gettext_noop("Stores of the kind %(kind)s cannot export."), kind=self.kind
        )

    def erase(self, subject: Subject) -> EraseResult | Pending:
        """Erase the subject's data as configured (delete, anonymise or retain by rule), in one
        transaction, and check that nothing deletable is left. Must be idempotent: erasing an
        already-erased subject returns a receipt with zero counts."""
        raise PermanentStoreError(
            gettext_noop("Stores of the kind %(kind)s cannot erase."), kind=self.kind
        )

    def restrict(self, subject: Subject, *, lift: bool = False) -> RestrictResult | Pending:
        """Mark the subject's records as restricted (processing blocked), or lift it."""
        raise PermanentStoreError(
            gettext_noop("Stores of the kind %(kind)s cannot restrict processing."), kind=self.kind
        )

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> RectifyResult | Pending:
        """Apply corrections (field name to new value) where the store allows it."""
        raise PermanentStoreError(
            gettext_noop("Stores of the kind %(kind)s cannot correct data."), kind=self.kind
        )

    def notify(
        self,
        subject: Subject,
        *,
        request_type: str,
        changes: Mapping[str, str] | None = None,
    ) -> NotifyResult | Pending:
        """Tell the store, as a recipient of the subject's data, about an erasure, rectification
        or restriction (``request_type``) so that it applies it too; a rectification comes
        with its ``changes`` (as :meth:`rectify` takes them: what the person says is wrong)."""
        raise PermanentStoreError(
            gettext_noop("Stores of the kind %(kind)s cannot be notified."), kind=self.kind
        )

    def erasure_plan(self) -> list[PlannedErasure]:
        """Return what an erasure does in this store, per entity, as configured."""
        return []

    def apply_retention(self, *, now: datetime, dry_run: bool = False) -> RetentionRun:
        """Delete or anonymise what the store's retention rule says has expired at ``now``
        (for everyone, set-based); with ``dry_run``, only count it."""
        raise PermanentStoreError(
            gettext_noop("Stores of the kind %(kind)s have no retention rule to apply."),
            kind=self.kind,
        )

    def subjects_by_hash(self, erased: Mapping[str, Mapping[str, datetime]]) -> list[Subject]:
        """Return the people in the store whom erasure records name. Used to re-apply erasures
        after a backup was restored, from records that keep only keyed hashes: ``erased`` maps
        an identity kind (``email``: ``privacy_portal.pseudonymise.email_hash``;
        ``customer_id``: the portal account's ``keyed_hash(..., purpose="customer-id")``) to
        each hash and when that person's erasure was asked for. A store that knows when it
        first recorded someone leaves out whoever it recorded later with that address (they
        came back after their erasure, with an account of their own); one that does not know
        returns them."""
        raise PermanentStoreError(
            gettext_noop("Stores of the kind %(kind)s cannot be searched by hash."), kind=self.kind
        )

    def confirm_identity(self, subject: Subject) -> bool:
        """Return True if the store links all of ``subject``'s identities to one person (for
        example: this order number belongs to this e-mail address). Used to check what only
        the person would know before disclosing or erasing anything."""
        return False

    def emails_for_order_number(self, order_number: str) -> list[str]:
        """Return the e-mail addresses the store ties to ``order_number`` (support finding
        the customer who calls about an order); none where the store cannot tell."""
        return []
