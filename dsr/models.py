"""Data-subject requests, the data-store registry, the work done per store, export packages
and erasure records."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import date, time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from django_stubs_ext import StrOrPromise

from privacy_portal import crypto
from privacy_portal.categories import DataCategory

from .connectors.base import error_text


def evidence_path(task: Any, filename: str) -> str:
    """Where a manual step's evidence file is kept: under a generated name with the upload's
    extension. The uploaded name can hold a person's name (it would then outlive their
    erasure in the file system), or nothing a file system accepts."""
    suffix = Path(filename).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,10}", suffix):
        suffix = ""
    return f"dsr/evidence/{timezone.now():%Y/%m}/{secrets.token_hex(12)}{suffix}"


class RequestType(models.TextChoices):
    ACCESS = "access", _("Access: a copy of my data")
    PORTABILITY = "portability", _("Portability: my data in a machine-readable form")
    RECTIFICATION = "rectification", _("Rectification: correct my data")
    ERASURE = "erasure", _("Erasure: delete my data")
    RESTRICTION = "restriction", _("Restriction: stop using my data for now")
    OBJECTION = "objection", _("Objection: stop a particular use of my data")
    WITHDRAW_CONSENT = "withdraw_consent", _("Withdraw consent")


class State(models.TextChoices):
    RECEIVED = "received", _("Received")
    AWAITING_IDENTITY = "awaiting_identity", _("Waiting for you to confirm your e-mail")
    VERIFIED = "verified", _("Identity confirmed")
    IN_REVIEW = "in_review", _("Being reviewed")
    APPROVED = "approved", _("Approved")
    RUNNING = "running", _("In progress")
    WAITING = "waiting", _("With our team")
    COMPLETED = "completed", _("Completed")
    PARTIALLY_COMPLETED = "partially_completed", _("Partially completed")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")
    CLOSED_UNVERIFIED = "closed_unverified", _("Closed: e-mail not confirmed")
    DUPLICATE = "duplicate", _("Duplicate of another request")


#: States in which a request is still open (one open request per subject, type and purposes).
OPEN_STATES = (
    State.RECEIVED,
    State.AWAITING_IDENTITY,
    State.VERIFIED,
    State.IN_REVIEW,
    State.APPROVED,
    State.RUNNING,
    State.WAITING,
    State.PARTIALLY_COMPLETED,
)
TERMINAL_STATES = (
    State.COMPLETED,
    State.REJECTED,
    State.CANCELLED,
    State.CLOSED_UNVERIFIED,
    State.DUPLICATE,
)
#: The states of a restriction that was carried out, in every store or in some (a store
#: failed): it may be lifted, and its lift's steps run while it stays in that state (its
#: answer was given; lifting it is a step of its own).
LIFTABLE_STATES = (State.COMPLETED, State.PARTIALLY_COMPLETED)


class Regime(models.TextChoices):
    GDPR = "gdpr", _("GDPR")
    UK_GDPR = "uk_gdpr", _("UK GDPR")
    CCPA = "ccpa", _("CCPA")


class Channel(models.TextChoices):
    PORTAL = "portal", _("Portal, signed in")
    PORTAL_GUEST = "portal_guest", _("Portal, without an account")
    ACCOUNT_CLOSURE = "account_closure", _("Account closure")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    IN_PERSON = "in_person", _("In person or at a trade show")
    POST = "post", _("Post")
    API = "api", _("Another Inper system (API)")


class IdentityMethod(models.TextChoices):
    SESSION_REAUTH = "session_reauth", _("Signed in and re-authenticated")
    EMAIL_LINK = "email_link", _("E-mail address confirmed by link")
    EMAIL_AND_KNOWLEDGE = "email_and_knowledge", _("E-mail confirmed and an order number matched")
    STAFF_DOCUMENT = "staff_document", _("Staff checked an identity document")
    STAFF_CALLBACK = "staff_callback", _("Staff called back a number on file")
    STAFF_IN_PERSON = "staff_in_person", _("Staff met the person")
    STAFF_KNOWLEDGE = "staff_knowledge", _("Staff matched details only the person knows")
    NOT_REQUIRED = "not_required", _("Not required (opt-out)")


class RejectionReason(models.TextChoices):
    IDENTITY = "identity", _("We could not confirm your identity.")
    MANIFESTLY_UNFOUNDED = "unfounded", _("The request is manifestly unfounded or excessive.")
    LEGAL_OBLIGATION = (
        "legal_obligation",
        _("A legal obligation requires us to keep or use the data."),
    )
    RIGHTS_OF_OTHERS = "rights_of_others", _("Answering would reveal other people's data.")
    LEGAL_CLAIMS = "legal_claims", _("The data is needed for legal claims.")
    OTHER = "other", _("Another reason (explained below).")


#: Where the person may complain about how Inper answered, under the law of their request.
COMPLAINT_RIGHTS: dict[str, StrOrPromise] = {
    Regime.GDPR: _(
        "You have the right to lodge a complaint with a data-protection supervisory authority, "
        "in particular in the country where you live or work, or where you think your rights "
        "were infringed, and to seek a remedy in court."
    ),
    Regime.UK_GDPR: _(
        "You have the right to complain to the Information Commissioner's Office, the UK's "
        "data-protection authority (ico.org.uk), and to seek a remedy in court."
    ),
    Regime.CCPA: _(
        "If you think your rights under California law were not respected, you may contact the "
        "California Privacy Protection Agency (cppa.ca.gov) or the California Attorney General "
        "(oag.ca.gov/privacy)."
    ),
}


class DataSubjectRequest(models.Model):
    """One request by one person. ``subject_key`` identifies the person (a keyed hash of their
    e-mail address) without storing it twice; the rest of their identities are kept encrypted
    in ``subject_snapshot`` only while the request needs them."""

    reference = models.CharField(_("reference"), max_length=24, unique=True, editable=False)
    type = models.CharField(_("type"), max_length=24, choices=RequestType.choices)
    state = models.CharField(
        _("state"), max_length=24, choices=State.choices, default=State.RECEIVED, db_index=True
    )
    regime = models.CharField(_("law"), max_length=12, choices=Regime.choices, default=Regime.GDPR)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="privacy_requests",
    )
    email = models.EmailField(_("e-mail address"), blank=True)
    full_name = models.CharField(_("name"), max_length=200, blank=True)
    subject_key = models.CharField(max_length=64, db_index=True, editable=False)
    country = CountryField(_("country"), blank=True)
    language = models.CharField(_("language"), max_length=8, default=settings.LANGUAGE_CODE)
    details = models.TextField(_("details"), blank=True, max_length=5000)
    purposes = models.JSONField(_("purposes"), default=list, blank=True)
    # Identities used by the stores (e-mail, customer id, phone, order numbers), encrypted;
    # cleared when the request is finished.
    subject_snapshot = models.BinaryField(null=True, blank=True, editable=False)

    received_at = models.DateTimeField(_("received at"), db_index=True)
    due_at = models.DateTimeField(_("due at"), db_index=True)
    acknowledge_by = models.DateTimeField(_("acknowledge by"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    extended_at = models.DateTimeField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    clock_paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0)

    identity_method = models.CharField(
        _("how identity was checked"), max_length=24, choices=IdentityMethod.choices, blank=True
    )
    identity_note = models.CharField(_("what was checked"), max_length=500, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_nonce = models.CharField(max_length=32, blank=True, editable=False)
    verification_sent_at = models.DateTimeField(null=True, blank=True)
    verification_reminded_at = models.DateTimeField(null=True, blank=True)
    knowledge_required = models.BooleanField(default=False)

    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=24, blank=True)
    rejection_reason = models.CharField(max_length=24, choices=RejectionReason.choices, blank=True)
    rejection_note = models.TextField(blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_requests",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_client = models.ForeignKey(
        "consent.ApiClient",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The Inper system that filed it, if any."),
    )
    held_reason = models.CharField(max_length=64, blank=True)
    # A step failed for good: the request waits for an officer to retry it, or to answer the
    # person without it (then: when they decided so).
    failed_steps_accepted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A completed restriction lifted by an officer (GDPR Art. 18(3)): the person is told why,
    # by e-mail, when the lift starts; the stores lift it through store tasks; it is lifted
    # once every one of them has.
    restriction_lift_reason = models.TextField(blank=True)
    restriction_lift_started_at = models.DateTimeField(null=True, blank=True)
    restriction_lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    restriction_lifted_at = models.DateTimeField(null=True, blank=True)
    redacted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        ordering = ("-received_at",)
        constraints = [
            # One open request per person, type and purposes (objections and withdrawals are
            # per purpose; the other types have none).
            models.UniqueConstraint(
                fields=("subject_key", "type", "purposes"),
                condition=models.Q(state__in=[s.value for s in OPEN_STATES]),
                name="dsr_one_open_request_per_subject_type_purposes",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="duplicate") | models.Q(duplicate_of__isnull=False),
                name="dsr_duplicate_links_its_original",
            ),
        ]
        indexes = [
            models.Index(fields=("state", "due_at"), name="dsr_state_due_idx"),
            models.Index(fields=("type", "state"), name="dsr_type_state_idx"),
            models.Index(fields=("user", "received_at"), name="dsr_user_received_idx"),
            # The dashboard's default queue: open requests, most urgent first.
            models.Index(
                fields=("due_at",),
                condition=models.Q(state__in=[s.value for s in OPEN_STATES]),
                name="dsr_open_due_idx",
            ),
        ]
        permissions = [("use_dashboard", _("Can use the compliance officers' dashboard"))]

    def __str__(self) -> str:
        return self.reference

    @property
    def complaint_right(self) -> StrOrPromise:
        """Where the person may complain about the answer (in the language active)."""
        return COMPLAINT_RIGHTS.get(self.regime, COMPLAINT_RIGHTS[Regime.GDPR])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def received_day(self) -> date | None:
        """The day it was received when staff recorded it later and gave only the day (the
        start of that day stands for it: its time is unknown); None when the time is known."""
        received = timezone.localtime(self.received_at)
        recorded = timezone.localdate(self.created_at) if self.created_at else received.date()
        if recorded != received.date() and received.time() == time.min:
            return received.date()
        return None

    @property
    def restriction_lifting(self) -> bool:
        """Whether an officer started lifting this restriction and a store has yet to lift it."""
        return self.restriction_lift_started_at is not None and self.restriction_lifted_at is None

    @property
    def settled(self) -> bool:
        """Whether nothing more happens to the request by itself: it ended, and no store is
        lifting its restriction (its pages stop following it then)."""
        return self.state in TERMINAL_STATES and not self.restriction_lifting

    @property
    def identity_proven(self) -> bool:
        """Whether someone proved the address is the person's: the person (by the e-mailed
        link, an order number, a re-authenticated session) or staff who recorded how. An
        opt-out needs no proof, so it proves nothing."""
        return self.verified_at is not None and self.identity_method not in (
            "",
            IdentityMethod.NOT_REQUIRED,
        )

    @property
    def address_confirmed(self) -> bool:
        """Whether the request is known to come from its address's holder: verified, or held
        for an officer's identity check after the person followed the e-mailed link (an
        order number did not match). Only such a person is told why the deadline moves."""
        return self.verified_at is not None or self.held_reason == "identity_needs_review"

    @property
    def followed_by_link(self) -> bool:
        """Whether the person follows this request by the signed link in its e-mails rather
        than by signing in: they filed it without signing in (as a guest, or through staff or
        another Inper system), or closed their account with it. A request filed without
        signing in keeps its link once it is linked to the person's account, so that its
        e-mails and pages read the same whether or not an account exists."""
        return self.user_id is None or self.channel != Channel.PORTAL

    def snapshot(self) -> dict[str, Any]:
        """Return the decrypted identities of the subject (empty once cleared)."""
        if not self.subject_snapshot:
            return {}
        data: dict[str, Any] = json.loads(crypto.decrypt(bytes(self.subject_snapshot)))
        return data

    def set_snapshot(self, data: dict[str, Any] | None) -> None:
        self.subject_snapshot = (
            crypto.encrypt(json.dumps(data, sort_keys=True).encode()) if data else None
        )


class DataStore(models.Model):
    """A place where Inper keeps personal data, and how the portal reaches it."""

    class Identity(models.TextChoices):
        EMAIL = "email", _("E-mail address")
        CUSTOMER_ID = "customer_id", _("Customer account")
        PHONE = "phone", _("Phone number")
        ORDER_NUMBER = "order_number", _("Order number")

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=120)
    owner = models.CharField(_("owner"), max_length=120, help_text=_("Team or person responsible."))
    description = models.TextField(_("description"), blank=True)
    categories = models.JSONField(
        _("data categories"),
        default=list,
        blank=True,
        help_text=format_lazy(
            _("Keys of the categories of personal data held: {keys}"),
            keys=", ".join(DataCategory.values),
        ),
    )
    data_subjects = models.TextField(
        _("whose data"),
        blank=True,
        help_text=_(
            "The kinds of people whose data it holds, for example customers, newsletter "
            "subscribers, trade-show contacts."
        ),
    )
    purposes = models.TextField(_("purposes"), blank=True)
    legal_basis = models.CharField(_("legal basis"), max_length=200, blank=True)
    recipients = models.TextField(_("recipients"), blank=True)
    source = models.CharField(_("source of the data"), max_length=200, blank=True)
    country = CountryField(_("country"), blank=True)
    transfer_safeguard = models.CharField(_("transfer safeguard"), max_length=200, blank=True)
    retention_rule = models.TextField(_("retention rule"), blank=True)
    legal_hold_rule = models.TextField(_("legal-hold rule"), blank=True)
    identities = models.JSONField(_("searchable by"), default=list, blank=True)
    connector = models.CharField(_("connector"), max_length=200)
    config = models.JSONField(_("configuration"), default=dict, blank=True)
    secrets_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    is_recipient = models.BooleanField(
        _("recipient"),
        default=False,
        help_text=_("Notify this store after an erasure, rectification or restriction."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=100)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(null=True, editable=False)
    last_check_detail = models.CharField(max_length=500, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("data store")
        verbose_name_plural = _("data stores")
        ordering = ("position", "name")

    def __str__(self) -> str:
        return self.name

    def identities_text(self) -> str:
        """The identities the store finds people by, in words ("E-mail address, Order
        number")."""
        labels = dict(self.Identity.choices)
        return ", ".join(str(labels.get(key, key)) for key in self.identities or ())

    def display_name(self, language: str | None = None) -> str:
        """The store's name as the person reads it, in ``language`` (the active one by
        default): from the ``names`` of its configuration, else :attr:`name`."""
        from .texts import store_name

        return store_name(self, language)

    @property
    def local_name(self) -> str:
        """:meth:`display_name` in the active language (for templates)."""
        return self.display_name()

    @property
    def secrets(self) -> dict[str, str]:
        """Return the decrypted secrets of the connector configuration."""
        if not self.secrets_encrypted:
            return {}
        data: dict[str, str] = json.loads(crypto.decrypt(bytes(self.secrets_encrypted)))
        return data

    def set_secrets(self, secrets: dict[str, str]) -> None:
        self.secrets_encrypted = (
            crypto.encrypt(json.dumps(secrets, sort_keys=True).encode()) if secrets else None
        )


class Action(models.TextChoices):
    LOCATE = "locate", _("Search")
    EXPORT = "export", _("Export")
    ERASE = "erase", _("Erase")
    RESTRICT = "restrict", _("Restrict")
    RECTIFY = "rectify", _("Correct")
    NOTIFY = "notify", _("Notify recipient")
    # The connector's restrict action with ``lift=True``, for a completed restriction.
    LIFT = "lift_restriction", _("Lift restriction")


class TaskState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    RETRYING = "retrying", _("Waiting to retry")
    WAITING = "waiting", _("Waiting")
    SUCCEEDED = "succeeded", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


TASK_DONE_STATES = (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.SKIPPED)


class StoreTask(models.Model):
    """One action on one store for one request. Rows are the truth; Celery only moves them."""

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="tasks")
    store = models.ForeignKey(
        DataStore, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("data store")
    )
    action = models.CharField(_("step"), max_length=16, choices=Action.choices)
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=TaskState.choices,
        default=TaskState.QUEUED,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    # A retry by staff starts the count of attempts again; what came before stays counted here
    # (for the task's history and the stores' failure figures).
    staff_retries = models.PositiveSmallIntegerField(default=0)
    attempts_before_retries = models.PositiveIntegerField(default=0)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    receipt = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # The error as it was said (untranslated text and values: see connectors.base), so that
    # each reader gets it in their language; ``error`` holds it in the portal's language.
    error_detail = models.JSONField(null=True, blank=True, editable=False)
    error_permanent = models.BooleanField(default=False)
    # For manual tasks and asynchronous services: what the task waits for ("manual": staff,
    # "callback": the service's signed answer), and what staff are asked to do.
    waiting_for = models.CharField(max_length=16, blank=True)
    instructions = models.TextField(blank=True)
    external_reference = models.CharField(max_length=200, blank=True)
    assigned_group = models.CharField(_("assigned to"), max_length=80, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    evidence = models.FileField(upload_to=evidence_path, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("store task")
        verbose_name_plural = _("store tasks")
        ordering = ("store__position", "store__name", "action")
        constraints = [
            models.UniqueConstraint(
                fields=("request", "store", "action"), name="dsr_one_task_per_request_store_action"
            ),
        ]
        indexes = [
            models.Index(fields=("state", "lease_expires_at"), name="dsr_task_lease_idx"),
            models.Index(fields=("state", "enqueued_at"), name="dsr_task_enqueued_idx"),
            # The dashboard's "has failed tasks" filter.
            models.Index(
                fields=("request",), condition=models.Q(state="failed"), name="dsr_task_failed_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}/{self.store_id}/{self.action}"

    @property
    def error_message(self) -> str:
        """The error in the active language (as stored, for an error recorded before errors
        were stored apart)."""
        return error_text(self.error_detail, fallback=self.error)

    @property
    def done(self) -> bool:
        return self.state in TASK_DONE_STATES


class ExportPackage(models.Model):
    """The access (or portability) package of a request: a ZIP encrypted at rest with a key
    of its own, kept until ``expires_at`` and then purged (file and key)."""

    request = models.OneToOneField(
        DataSubjectRequest,
        on_delete=models.CASCADE,
        related_name="package",
        verbose_name=_("request"),
    )
    key_encrypted = models.BinaryField(editable=False)
    storage_name = models.CharField(max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    building_since = models.DateTimeField(null=True, blank=True)
    built_at = models.DateTimeField(_("built at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True, db_index=True)
    download_count = models.PositiveIntegerField(_("download count"), default=0)
    last_downloaded_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("export package")
        verbose_name_plural = _("export packages")

    def __str__(self) -> str:
        return f"{_('Package')} {self.request_id}"

    def key(self) -> bytes:
        return crypto.decrypt(bytes(self.key_encrypted))


class ErasureRecord(models.Model):
    """Proof of an erasure that holds nothing personal beyond a keyed hash of the identities,
    signed so that it can be trusted when erasures are re-applied after a backup restore."""

    reference = models.CharField(_("reference"), max_length=24, unique=True)
    identity_hashes = models.JSONField(default=dict)
    receipts = models.JSONField(default=dict)
    created_at = models.DateTimeField(_("created"))
    signature = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("erasure record")
        verbose_name_plural = _("erasure records")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.reference


class RequestNote(models.Model):
    """An internal note of compliance staff on a request; never shown to the person. Notes are
    not edited or deleted; redaction clears their text with the rest of the request."""

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(_("note"), max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")
        ordering = ("created_at", "pk")

    def __str__(self) -> str:
        return f"{self.request_id}/{self.pk}"


class RetentionJobRun(models.Model):
    """One run of a retention job (by beat, the ``retention`` command or an officer), real or
    dry, with what it did or would do. Reports hold references and counts, never personal data."""

    job = models.CharField(_("job"), max_length=32)
    dry_run = models.BooleanField(_("dry run"), default=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    ok = models.BooleanField(null=True)
    count = models.PositiveIntegerField(_("records"), default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    error_detail = models.JSONField(null=True, blank=True, editable=False)  # as on StoreTask

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering = ("-started_at", "-pk")
        indexes = [models.Index(fields=("job", "-started_at"), name="dsr_retention_job_idx")]

    def __str__(self) -> str:
        return f"{self.job} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def error_message(self) -> str:
        """The error in the active language."""
        return error_text(self.error_detail, fallback=self.error)


class ManualStep(StoreTask):
    """A store task that waits for staff: the admin's list of manual steps to complete."""

    class Meta:
        proxy = True
        verbose_name = _("manual step")
        verbose_name_plural = _("manual steps")
