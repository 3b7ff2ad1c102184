"""The portal's own tables as a data store.

Each app declares, in its ``personal_data`` module, which of its models hold personal data:
how a record is tied to a person, which fields a copy contains, and what an erasure does
(delete the record, anonymise fields, keep it under a named legal basis, or call the app's own
function). ``DSR_PORTAL_DECLARATIONS`` lists those modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_stubs_ext import StrOrPromise

from privacy_portal.pseudonymise import email_hash, keyed_hash

from .base import (
    Connector,
    EraseResult,
    ExportResult,
    ExportSink,
    HealthResult,
    LocateResult,
    Pending,
    PermanentStoreError,
    PlannedErasure,
    RectifyResult,
    Retention,
    Subject,
    TemporaryStoreError,
    period_words,
)
from .pgcopy import EntityCopy, copy_entities, csv_cell, json_cell

ERASE_DELETE = "delete"
ERASE_ANONYMISE = "anonymise"
ERASE_RETAIN = "retain"
ERASE_HOOK = "hook"


@dataclass(frozen=True)
class ModelDeclaration:
    """How one model holds personal data.

    ``identity`` is the ORM lookup that ties a record to the person, and ``identity_kind`` the
    identity it is compared with: "customer_id" (the portal account), "email" or "email_hash"
    (the keyed hash of the address, for records that must not keep it in clear).
    """

    model: str
    entity: str
    identity: str
    identity_kind: str
    fields: tuple[str, ...]
    erase: str = ERASE_DELETE
    anonymise: Mapping[str, Any] = field(default_factory=dict)
    retain_basis: StrOrPromise = ""
    retain_days: int | None = None
    # For ERASE_HOOK: dotted path of ``hook(queryset, identity) -> (deleted, anonymised)``;
    # ``identity`` is the lookup that selected the records (``{"subject__user_id": "42"}``).
    hook: str = ""
    descriptions: Mapping[str, StrOrPromise] = field(default_factory=dict)
    # What the records are called where the person reads them ("addresses"), translated; and
    # on staff's pages, where the title speaks to the person ("copies of your data").
    title: StrOrPromise = ""
    staff_title: StrOrPromise = ""
    # Erasures run in ascending order (records that point to others first).
    order: int = 100
    # Further filters: records outside them no longer hold personal data (a purged package).
    live: Mapping[str, Any] = field(default_factory=dict)
    # What a portability request's copy holds (GDPR Art. 20: what the person provided, given
    # or observed from their use of the portal): every exported field (None), only these, or
    # nothing (an empty tuple: Inper's own records, such as security data and the proof it
    # keeps of choices and requests).
    portable: tuple[str, ...] | None = None

    def model_class(self) -> type[Model]:
        return apps.get_model(self.model)


def declarations() -> list[ModelDeclaration]:
    """Return every app's declarations, in erasure order."""
    found: list[ModelDeclaration] = []
    for module in settings.DSR_PORTAL_DECLARATIONS:
        found.extend(import_string(f"{module}.DECLARATIONS"))
    return sorted(found, key=lambda declaration: declaration.order)


def _busy(error: Exception) -> TemporaryStoreError:
    """The portal's own database could not be used for now (its error, without SQL or
    values)."""
    return TemporaryStoreError(
        gettext_noop("The portal's database could not be used (%(error)s)."),
        error=error.__class__.__name__,
    )


def _identity_value(subject: Subject, kind: str) -> str | None:
    if kind == "customer_id":
        return subject.customer_id
    if kind == "email":
        return subject.email or None
    if kind == "email_hash":
        return email_hash(subject.email) if subject.email else None
    raise PermanentStoreError(gettext_noop("Unknown kind of identity %(kind)s."), kind=kind)


def identity_filter(declaration: ModelDeclaration, subject: Subject) -> dict[str, Any] | None:
    """Return the lookup that ties ``declaration``'s records to ``subject`` (None: no value
    of the identity it needs is known). Records kept by the keyed hash of an address (the
    person's requests, consent choices made before they had an account) are theirs under
    every address they had."""
    if declaration.identity_kind == "email_hash" and len(subject.emails) > 1:
        return {f"{declaration.identity}__in": [email_hash(e) for e in subject.emails]}
    value = _identity_value(subject, declaration.identity_kind)
    if value is None:
        return None
    lookup = declaration.identity
    if declaration.identity_kind == "email":
        lookup = f"{lookup}__iexact"
    return {lookup: value}


def subject_records(declaration: ModelDeclaration, subject: Subject) -> QuerySet[Any]:
    """Return the records of ``declaration``'s model that belong to ``subject``."""
    manager = declaration.model_class()._default_manager
    identity = identity_filter(declaration, subject)
    if identity is None:
        return manager.none()
    return manager.filter(**identity, **declaration.live)


def copied_fields(declaration: ModelDeclaration, *, portability: bool) -> tuple[str, ...]:
    """Return the fields a copy holds of ``declaration``'s records: every exported field for
    access, the portable ones for portability (none: the entity is left out)."""
    if portability and declaration.portable is not None:
        return declaration.portable
    return declaration.fields


def _rows(queryset: QuerySet[Any], fields: Sequence[str]) -> Iterator[Sequence[Any]]:
    yield from queryset.order_by("pk").values_list(*fields).iterator(chunk_size=2000)


class PortalConnector(Connector):
    """The portal's own models (accounts, consent records, requests).

    It does not restrict: the portal keeps a person's records to let them sign in, to answer
    their requests and to prove their choices, uses at the person's own wish or for legal
    obligations and claims, which a restriction leaves open (GDPR Art. 18(2)). A restriction
    takes no step here, and the person's page names the portal among the systems it does not
    apply to."""

    kind: ClassVar[str] = "portal"
    supports: ClassVar[frozenset[str]] = frozenset(
        {"locate", "export", "erase", "rectify", "reidentify"}
    )
    same_database: ClassVar[bool] = True

    def health_check(self) -> HealthResult:
        try:
            for declaration in declarations():
                declaration.model_class()._default_manager.exists()
        except DatabaseError as error:
            return HealthResult(False, error.__class__.__name__)
        return HealthResult(True, f"{len(declarations())} models declared")

    def locate(self, subject: Subject) -> LocateResult:
        try:
            counts = {
                declaration.entity: subject_records(declaration, subject).count()
                for declaration in declarations()
            }
        except OperationalError as error:
            raise _busy(error) from None
        return LocateResult({entity: n for entity, n in counts.items() if n})

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult:
        raw_table = getattr(sink, "raw_table", None)
        if raw_table is not None and _copy_possible():
            return self._export_copy(subject, raw_table)
        counts: dict[str, int] = {}
        try:
            for declaration in declarations():
                fields = copied_fields(declaration, portability=self.portability)
                queryset = subject_records(declaration, subject)
                if not fields or not queryset.exists():
                    continue
                counts[declaration.entity] = sink.table(
                    declaration.entity,
                    fields,
                    _rows(queryset, fields),
                    descriptions=_descriptions(declaration, fields),
                )
        except OperationalError as error:
            raise _busy(error) from None
        return ExportResult(counts)

    def _export_copy(self, subject: Subject, raw_table: Callable[..., Any]) -> ExportResult:
        """Export on PostgreSQL with ``COPY`` (see ``pgcopy``): one read-only snapshot, shared
        by a helper connection; the two take the entities' copies between them."""
        counts: dict[str, int] = {}
        try:
            # The raw cursors' errors become Django's (OperationalError: try again later).
            with (
                connection.wrap_database_errors,
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                (snapshot,) = cursor.fetchone()
                copies = []
                for declaration in declarations():
                    fields = copied_fields(declaration, portability=self.portability)
                    queryset = subject_records(declaration, subject)
                    if not fields or queryset.query.is_empty():
                        continue
                    csv_query, json_query = _copy_queries(queryset, fields, cursor)
                    copies.append(
                        EntityCopy(
                            declaration.entity,
                            fields,
                            _descriptions(declaration, fields),
                            csv_query,
                            json_query,
                        )
                    )
                with (
                    _snapshot_connection(snapshot) as helper,
                    connection.connection.cursor() as main,
                    helper.cursor() as second,
                ):
                    copied = copy_entities(
                        raw_table=raw_table, entities=copies, cursor=main, helper=second
                    )
                counts = {entity: n for entity, n in copied.items() if n}
        except OperationalError as error:
            raise _busy(error) from None
        return ExportResult(counts)

    def erase(self, subject: Subject) -> EraseResult:
        deleted: dict[str, int] = {}
        anonymised: dict[str, int] = {}
        retained: list[Retention] = []
        remaining: dict[str, int] = {}
        today = timezone.localdate()
        try:
            with transaction.atomic():
                for declaration in declarations():
                    queryset = subject_records(declaration, subject)
                    if declaration.erase == ERASE_DELETE:
                        count = queryset.delete()[1].get(queryset.model._meta.label, 0)
                        if count:
                            deleted[declaration.entity] = count
                    elif declaration.erase == ERASE_ANONYMISE:
                        count = queryset.update(**declaration.anonymise)
                        if count:
                            anonymised[declaration.entity] = count
                    elif declaration.erase == ERASE_HOOK:
                        hook: Callable[[QuerySet[Any], dict[str, Any]], tuple[int, int]] = (
                            import_string(declaration.hook)
                        )
                        identity = identity_filter(declaration, subject)
                        gone, changed = hook(queryset, identity) if identity else (0, 0)
                        if gone:
                            deleted[declaration.entity] = gone
                        if changed:
                            anonymised[declaration.entity] = changed
                    elif declaration.erase == ERASE_RETAIN:
                        count = queryset.count()
                        if count:
                            until = (
                                today + timedelta(days=declaration.retain_days)
                                if declaration.retain_days
                                else None
                            )
                            retained.append(
                                Retention(
                                    declaration.entity,
                                    count,
                                    str(declaration.retain_basis),
                                    until,
                                    tuple(declaration.fields),
                                )
                            )
                    else:
                        raise PermanentStoreError(
                            gettext_noop("Unknown erasure action %(action)s for %(entity)s."),
                            action=declaration.erase,
                            entity=declaration.entity,
                        )
                remaining = _counts(
                    {
                        declaration.entity: subject_records(declaration, subject)
                        for declaration in declarations()
                        if declaration.erase in (ERASE_DELETE, ERASE_HOOK)
                    }
                )
        except OperationalError as error:
            raise _busy(error) from None
        return EraseResult(deleted, anonymised, tuple(retained), remaining)

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> RectifyResult | Pending:
        """What is wrong is described in words: staff correct the account as it says (the
        person can correct their profile themselves, but not their copy elsewhere)."""
        from accounts.models import User

        if not subject.customer_id or not User.objects.filter(pk=subject.customer_id).exists():
            return RectifyResult({})
        return Pending(
            "manual",
            _(
                "Correct the person's account in the admin (Customers and staff, then Accounts, "
                "then their account; the officer's request page links to it) as "
                "the request describes: name, phone, country, date of birth, language or "
                "addresses; then complete this step with a note of what you changed. A new "
                "e-mail address the person can set themselves, once signed in."
            ),
        )

    def erasure_plan(self) -> list[PlannedErasure]:
        plan = []
        for declaration in declarations():
            action = {ERASE_HOOK: "anonymise"}.get(declaration.erase, declaration.erase)
            plan.append(
                PlannedErasure(
                    entity=declaration.entity,
                    action=action,
                    fields=tuple(declaration.anonymise) if action == ERASE_ANONYMISE else (),
                    basis=str(declaration.retain_basis),
                    period=period_words(days=declaration.retain_days or 0),
                )
            )
        return plan

    def subjects_by_hash(self, erased: Mapping[str, Mapping[str, datetime]]) -> list[Subject]:
        from accounts.models import User

        by_email, by_id = erased.get("email", {}), erased.get("customer_id", {})
        found = []
        accounts = User.objects.values_list("pk", "email", "date_joined")
        for pk, email, joined in accounts.iterator(chunk_size=2000):
            asked = by_email.get(email_hash(email))
            # The erased account itself (also once closed: its address is a placeholder then),
            # or one with the address opened before the erasure was asked for; one opened
            # after it is the person's new account.
            if keyed_hash(str(pk), purpose="customer-id") in by_id or (
                asked is not None and joined < asked
            ):
                found.append(Subject(email=email, customer_id=str(pk)))
        return found


def _counts(querysets: Mapping[str, QuerySet[Any]]) -> dict[str, int]:
    """Return the record count of each queryset, all in one statement."""
    counts = {name: 0 for name, queryset in querysets.items() if queryset.query.is_empty()}
    columns: list[str] = []
    params: list[Any] = []
    for queryset in querysets.values():
        if not queryset.query.is_empty():
            sql, values = queryset.order_by().values("pk").query.sql_with_params()
            # The ORM's compiled SQL; its parameters go separately to execute().
            columns.append(f"(SELECT count(*) FROM ({sql}) AS q)")  # noqa: S608  # nosec B608
            params.extend(values)
    if columns:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(columns)}", params)  # nosec B608
            row = cursor.fetchone()
        names = [name for name in querysets if name not in counts]
        counts.update(zip(names, row, strict=True))
    return {name: counts[name] for name in querysets}


def _copy_possible() -> bool:
    """PostgreSQL encodes exports itself, in a read-only transaction of the export's own."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


@contextmanager
def _snapshot_connection(snapshot: str) -> Iterator[Any]:
    """Yield a second psycopg2 connection that sees exactly the exported ``snapshot``."""
    helper = connection.get_new_connection(connection.get_connection_params())
    try:
        with helper.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
            cursor.execute("SELECT set_config('TimeZone', %s, true)", [connection.timezone_name])
        yield helper
    finally:
        helper.close()


_INTEGER_FIELDS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)
_TEXT_FIELDS = frozenset({"CharField", "TextField", "EmailField", "SlugField", "URLField"})


def _column_kind(model: type[Model], path: str) -> str:
    """Return how the generic path writes the values of field ``path`` ("int", "bool"...)."""
    target: Any = None
    for part in path.split("__"):
        target = model._meta.get_field(part)
        if target.is_relation:
            model = target.related_model
            target = target.target_field
    internal = target.get_internal_type()
    if internal == "BooleanField":
        return "bool"
    if internal in _INTEGER_FIELDS:
        return "int"
    if internal == "DateTimeField":
        return "datetime"
    return "text" if internal in _TEXT_FIELDS else "other"


def _copy_queries(queryset: QuerySet[Any], fields: Sequence[str], cursor: Any) -> tuple[str, str]:
    """Return the CSV and JSON statements of ``queryset``'s ``fields`` (see ``pgcopy``).

    The inner query is the ORM's, with its parameters escaped by psycopg2; the field names
    are the declarations' own (code, not input), quoted as identifiers."""
    sql, params = queryset.order_by("pk").values_list(*fields).query.sql_with_params()
    inner = cursor.mogrify(sql, params).decode()
    names = [connection.ops.quote_name(name) for name in fields]
    source = f"({inner}) AS r({', '.join(names)})"
    kinds = [_column_kind(queryset.model, path) for path in fields]
    cells = ", ".join(
        f"{csv_cell(f'r.{name}', kind)} AS {name}" for name, kind in zip(names, kinds, strict=True)
    )
    values = ", ".join(
        f"{json_cell(f'r.{name}', kind)} AS {name}" for name, kind in zip(names, kinds, strict=True)
    )
    # Declared field names (quoted) around the ORM's SQL with its parameters escaped.
    as_csv = f"SELECT {cells} FROM {source}"  # noqa: S608  # nosec B608
    json_rows = f"SELECT {values} FROM {source}"  # noqa: S608  # nosec B608
    as_json = f"SELECT row_to_json(j) FROM ({json_rows}) AS j"  # noqa: S608  # nosec B608
    return as_csv, as_json


def _descriptions(
    declaration: ModelDeclaration, fields: Sequence[str] | None = None
) -> dict[str, StrOrPromise]:
    """Return each exported field's description (of ``fields``, by default all): the declared
    one, else the model's label (lazily translated: the sink writes them in the person's
    language)."""
    model = declaration.model_class()
    result: dict[str, StrOrPromise] = {}
    for name in declaration.fields if fields is None else fields:
        if name in declaration.descriptions:
            result[name] = declaration.descriptions[name]
            continue
        try:
            model_field = model._meta.get_field(name.split("__")[0])
            result[name] = getattr(model_field, "verbose_name", name)
        except Exception:
            result[name] = name
    return result
