"""The consent catalogue (purposes, cookie categories, policy versions) and the consent ledger.

The ledger (:class:`ConsentEvent`) and the texts it points to (:class:`PurposeVersion`,
:class:`PolicyVersion`) are append-only: the database refuses UPDATE and DELETE on them (see the
migrations). :class:`ConsentState` holds one row per subject and purpose, written in the same
transaction as the event it reflects; every read uses it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise


def pick_language(texts: dict[str, Any], language: str | None) -> str:
    """Return the language of ``texts`` to show for ``language``, falling back to the default."""
    wanted = (language or get_language() or settings.LANGUAGE_CODE)[:2]
    if wanted in texts:
        return wanted
    if settings.LANGUAGE_CODE in texts:
        return str(settings.LANGUAGE_CODE)
    return next(iter(texts), settings.LANGUAGE_CODE)


def text_of(texts: dict[str, Any], field_name: str, language: str | None) -> str:
    """Return ``field_name`` of per-language ``texts`` in ``language`` (or the fallback)."""
    if not texts:
        return ""
    return str(texts.get(pick_language(texts, language), {}).get(field_name, ""))


def text_hash(texts: dict[str, Any], fields: tuple[str, ...], language: str) -> str:
    """Return the SHA-256 of the exact text shown in ``language`` (canonical JSON)."""
    shown = {name: text_of(texts, name, language) for name in fields}
    canonical = json.dumps(shown, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class TranslatedTexts(models.Model):
    """A model whose user-facing texts are kept per language in ``texts``:
    ``{"en": {"title": ..., "description": ...}, "de": {...}}``."""

    texts = models.JSONField(_("texts"), default=dict, blank=True)

    TEXT_FIELDS: tuple[str, ...] = ("title", "description")

    class Meta:
        abstract = True

    def text(self, field: str, language: str | None = None) -> str:
        """Return ``field`` in ``language`` (or the closest available language)."""
        return text_of(self.texts or {}, field, language)


class LegalBasis(models.TextChoices):
    CONSENT = "consent", pgettext_lazy("legal basis", "Consent")
    LEGITIMATE_INTEREST = "legitimate_interest", pgettext_lazy("legal basis", "Legitimate interest")
    CONTRACT = "contract", pgettext_lazy("legal basis", "Contract")
    LEGAL_OBLIGATION = "legal_obligation", pgettext_lazy("legal basis", "Legal obligation")


class PurposeKind(models.TextChoices):
    MARKETING = "marketing", _("Marketing channel")
    PROCESSING = "processing", _("Processing purpose")
    COOKIE = "cookie", _("Cookie category")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("Text message")
    PHONE = "phone", _("Phone")
    POST = "post", _("Post")


class Source(models.TextChoices):
    PREFERENCE_CENTRE = "preference_centre", _("Preference centre")
    BANNER = "banner", _("Cookie banner or cookie settings")
    OPT_OUT_SHARING = "opt_out_sharing", _("Do Not Sell or Share page")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe link")
    SMS_STOP = "sms_stop", _("Reply STOP by text message")
    GPC = "gpc", _("Global Privacy Control signal")
    STAFF = "staff", _("Staff on the person's behalf")
    API = "api", _("Inper system (API)")
    SIGNUP = "signup", _("Sign-up")
    REQUEST = "request", _("Data-subject request")


#: How a choice was made, as the person reads it on their own pages (the staff's ledger keeps
#: the labels above, which name Inper's systems).
SOURCE_FOR_PERSON: dict[str, StrOrPromise] = {
    Source.API: _("Another Inper service, such as the shop"),
    Source.STAFF: _("Our staff, as you told them"),
    # Filed signed in, or by anyone with the person's address (an opt-out needs no check).
    Source.REQUEST: _("A privacy request in your name"),
    Source.GPC: _("Your browser's Global Privacy Control setting"),
}


class ActorType(models.TextChoices):
    SUBJECT = "subject", _("The person")
    STAFF = "staff", _("Staff")
    API = "api", _("API client")
    SYSTEM = "system", _("System")


class Purpose(models.Model):
    """Something Inper may do with personal data, that a person can see and, where the legal
    basis allows, switch. Its text lives in versions: changing it makes a new version."""

    key = models.SlugField(_("key"), max_length=48, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=PurposeKind.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, blank=True)
    legal_basis = models.CharField(_("legal basis"), max_length=24, choices=LegalBasis.choices)
    default_granted = models.BooleanField(
        _("on by default"),
        default=False,
        help_text=_("Always off where the legal basis is consent."),
    )
    always_on = models.BooleanField(
        _("always on"),
        default=False,
        help_text=_("Cannot be switched off (strictly necessary cookies, contract, the law)."),
    )
    honours_gpc = models.BooleanField(
        _("switched off by Global Privacy Control"),
        default=False,
        help_text=_("Sale or sharing of personal data, or targeted advertising."),
    )
    double_opt_in = models.BooleanField(
        _("double opt-in"),
        default=False,
        help_text=_("A grant counts only after the person confirms it from an e-mail."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    current_version = models.ForeignKey(
        "PurposeVersion",
        verbose_name=_("current version"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        editable=False,
    )

    class Meta:
        ordering = ("kind", "position", "key")
        verbose_name = _("purpose")
        verbose_name_plural = _("purposes")
        constraints = [
            models.CheckConstraint(
                condition=~Q(legal_basis=LegalBasis.CONSENT, default_granted=True),
                name="consent_purpose_consent_default_off",
            ),
            models.CheckConstraint(
                condition=Q(kind=PurposeKind.MARKETING, channel__gt="")
                | (~Q(kind=PurposeKind.MARKETING) & Q(channel="")),
                name="consent_purpose_channel_for_marketing",
            ),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def switchable(self) -> bool:
        return not self.always_on and self.legal_basis in (
            LegalBasis.CONSENT,
            LegalBasis.LEGITIMATE_INTEREST,
        )

    @property
    def is_objection(self) -> bool:
        """Switching it off is an objection (legitimate interest), not a withdrawal of
        consent."""
        return self.legal_basis == LegalBasis.LEGITIMATE_INTEREST

    def title(self, language: str | None = None) -> str:
        version = self.current_version
        return version.text("title", language) if version else self.key


class PurposeVersion(TranslatedTexts):
    """One published text of a purpose. Append-only: the text a ledger event's hash refers to
    can always be shown again."""

    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    material = models.BooleanField(
        _("material change"),
        default=True,
        help_text=_(
            "A material change asks people who consented to an earlier text to choose again. "
            "Untick only for corrections that do not change the meaning (typos)."
        ),
    )
    change_summary = models.CharField(_("summary of the change"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by_id = models.BigIntegerField(_("created by"), null=True, blank=True)

    class Meta:
        ordering = ("purpose", "-version")
        verbose_name = _("purpose version")
        verbose_name_plural = _("purpose versions")
        constraints = [
            models.UniqueConstraint(fields=("purpose", "version"), name="consent_purpose_version")
        ]

    def __str__(self) -> str:
        return f"{self.purpose_id}/v{self.version}"

    @property
    def title(self) -> str:
        return self.text("title")

    def text_hash(self, language: str) -> str:
        """Return the SHA-256 of the exact text shown in ``language``."""
        return text_hash(self.texts or {}, self.TEXT_FIELDS, language)


class CookieService(TranslatedTexts):
    """A service that sets cookies in a cookie category (e.g. Google Analytics)."""

    TEXT_FIELDS = ("description",)

    category = models.ForeignKey(
        Purpose,
        on_delete=models.CASCADE,
        related_name="services",
        verbose_name=_("cookie category"),
        limit_choices_to={"kind": PurposeKind.COOKIE},
    )
    name = models.CharField(_("name"), max_length=100)
    provider = models.CharField(_("provider"), max_length=100)
    privacy_url = models.URLField(_("provider's privacy information"), blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ("category", "position", "name")
        verbose_name = _("cookie service")
        verbose_name_plural = _("cookie services")

    def __str__(self) -> str:
        return self.name


class Cookie(TranslatedTexts):
    """One cookie (or family of cookies, ``_ga_*``) a service sets."""

    TEXT_FIELDS = ("purpose", "lifetime")

    service = models.ForeignKey(CookieService, on_delete=models.CASCADE, related_name="cookies")
    name = models.CharField(
        _("name"), max_length=100, help_text=_("A trailing * matches any suffix.")
    )
    domain = models.CharField(_("set by (domain)"), max_length=100)
    first_party = models.BooleanField(_("first party"), default=True)

    class Meta:
        ordering = ("service", "name")
        verbose_name = _("cookie")
        verbose_name_plural = _("cookies")

    def __str__(self) -> str:
        return self.name


class PolicyDocument(models.TextChoices):
    PRIVACY_STATEMENT = "privacy_statement", _("Privacy statement")
    COOKIE_POLICY = "cookie_policy", _("Cookie policy")


class PolicyVersion(models.Model):
    """A published version of the privacy statement or the cookie policy. Append-only."""

    document = models.CharField(_("document"), max_length=24, choices=PolicyDocument.choices)
    version = models.PositiveIntegerField(_("version"))
    published_at = models.DateTimeField(_("published at"))
    material = models.BooleanField(
        _("material change"),
        default=False,
        help_text=_(
            "Signed-in customers see a notice on their next visit; for the cookie policy, the "
            "banner asks every visitor again."
        ),
    )
    summary = models.JSONField(
        _("summary of changes"), default=dict, blank=True, help_text=_("Per language.")
    )
    body = models.TextField(
        _("text"),
        help_text=_("“## ” starts a heading, “- ” a list item; other lines are paragraphs."),
    )
    created_by_id = models.BigIntegerField(_("published by"), null=True, blank=True)

    class Meta:
        ordering = ("document", "-version")
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")
        constraints = [
            models.UniqueConstraint(fields=("document", "version"), name="consent_policy_version")
        ]

    def __str__(self) -> str:
        return f"{self.get_document_display()} v{self.version}"

    def summary_text(self, language: str | None = None) -> str:
        summary = self.summary or {}
        return str(summary.get(pick_language(summary, language), "")) if summary else ""


class PolicyAcknowledgement(models.Model):
    """A signed-in customer has seen the notice of a material policy change."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    policy_version = models.ForeignKey(
        PolicyVersion,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("policy version"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "policy_version"), name="consent_policy_ack")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.policy_version_id}"


class ConsentSubject(models.Model):
    """A person the ledger is about: an account, an anonymous banner visitor, or someone known
    only by e-mail (a trade-show contact). Ledger rows point here by id only, so erasure can
    detach a person (:func:`consent.services.consent_subject_pseudonymise`) without touching
    them. An account's own subject has ``user`` set and no ``visitor_id``; a visitor subject
    linked to an account at sign-in has both."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="consent_subjects",
    )
    visitor_id = models.UUIDField(_("visitor id"), unique=True, null=True, blank=True)
    # NULL (not "") when absent: many subjects have none, and the column is unique.
    email_hash = models.CharField(
        _("e-mail hash"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
    )
    pseudonym = models.CharField(_("pseudonym"), max_length=64, blank=True)
    pseudonymised_at = models.DateTimeField(_("pseudonymised at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent subject")
        verbose_name_plural = _("consent subjects")
        constraints = [
            models.UniqueConstraint(
                fields=("user",),
                condition=Q(user__isnull=False, visitor_id__isnull=True),
                name="consent_subject_one_per_account",
            )
        ]

    def __str__(self) -> str:
        return f"{_('Subject')} #{self.pk}"

    @property
    def kind(self) -> str:
        if self.pseudonymised_at:
            return "pseudonymised"
        if self.visitor_id:
            return "visitor"
        if self.user_id:
            return "account"
        return "email"


def told_before(evidence: Mapping[str, Any] | None, recorded: date) -> date | None:
    """The day the person told Inper, as staff recorded it in a choice's ``evidence``
    ("received_on"), if before the day it was ``recorded`` (else None)."""
    given = (evidence or {}).get("received_on")
    try:
        day = date.fromisoformat(given) if isinstance(given, str) else None
    except ValueError:
        return None
    return day if day is not None and day < recorded else None


class ConsentEvent(models.Model):
    """One grant or withdrawal, as it happened. Append-only: the database refuses UPDATE and
    DELETE. Nothing here names a person: the subject is a row id, the address is truncated and
    the user agent hashed."""

    subject = models.ForeignKey(
        ConsentSubject,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
        verbose_name=_("consent subject"),
    )
    purpose = models.ForeignKey(
        Purpose,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("purpose"),
    )
    purpose_version = models.ForeignKey(
        PurposeVersion,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("purpose version"),
    )
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=24, choices=Source.choices)
    policy_version = models.ForeignKey(
        PolicyVersion, on_delete=models.PROTECT, related_name="+", null=True, db_index=False
    )
    language = models.CharField(_("language of the text shown"), max_length=8)
    text_hash = models.CharField(_("hash of the text shown"), max_length=64)
    occurred_at = models.DateTimeField(_("time"))
    ip_truncated = models.CharField(_("IP address (truncated)"), max_length=45, blank=True)
    user_agent_hash = models.CharField(_("user agent (hash)"), max_length=32, blank=True)
    actor_type = models.CharField(_("actor type"), max_length=8, choices=ActorType.choices)
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)

    class Meta:
        ordering = ("-id",)
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        permissions = [("export_consentevent", _("Can export the consent ledger"))]
        indexes = [
            models.Index(fields=("subject", "id"), name="consent_event_subject_idx"),
            models.Index(fields=("purpose", "occurred_at"), name="consent_event_purpose_idx"),
            models.Index(fields=("occurred_at",), name="consent_event_time_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"

    @property
    def source_label(self) -> str:
        """How the choice was made, in words. A STOP reply recorded before it had a source of
        its own says so in its evidence (the ledger's rows are never changed)."""
        if self.source == Source.UNSUBSCRIBE and (self.evidence or {}).get("via") == "sms_stop":
            return str(Source.SMS_STOP.label)
        return str(SOURCE_FOR_PERSON.get(self.source) or self.get_source_display())

    @property
    def received_on(self) -> date | None:
        """The day the person told Inper, for a choice staff recorded later (None if not
        recorded, or the day it was recorded)."""
        return told_before(self.evidence, timezone.localdate(self.occurred_at))


class ConsentState(models.Model):
    """The current choice of one subject for one purpose: the last event, kept in step with
    the ledger in the same transaction."""

    # No index of their own: (subject, purpose) and (purpose, granted) serve every read, events
    # and purpose versions are never deleted, and each index is written by every choice.
    subject = models.ForeignKey(
        ConsentSubject,
        on_delete=models.PROTECT,
        related_name="states",
        db_index=False,
        verbose_name=_("consent subject"),
    )
    purpose = models.ForeignKey(
        Purpose,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("purpose"),
    )
    purpose_version = models.ForeignKey(
        PurposeVersion,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("purpose version"),
    )
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=24, choices=Source.choices)
    event = models.ForeignKey(
        ConsentEvent, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("current choice")
        verbose_name_plural = _("current choices")
        permissions = [("record_on_behalf", _("Can record a choice on a person's behalf"))]
        constraints = [
            models.UniqueConstraint(fields=("subject", "purpose"), name="consent_state_unique")
        ]
        indexes = [models.Index(fields=("purpose", "granted"), name="consent_state_purpose_idx")]

    def __str__(self) -> str:
        return f"{self.subject_id}:{self.purpose_id}"


class PendingConfirmation(models.Model):
    """A grant waiting for the person to confirm it from an e-mail (double opt-in)."""

    subject = models.ForeignKey(ConsentSubject, on_delete=models.CASCADE, related_name="+")
    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="+")
    purpose_version = models.ForeignKey(PurposeVersion, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=24, choices=Source.choices)
    language = models.CharField(max_length=8)
    requested_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("pending confirmation")
        verbose_name_plural = _("pending confirmations")
        indexes = [models.Index(fields=("subject", "purpose"), name="consent_pending_idx")]

    def __str__(self) -> str:
        return f"#{self.pk}"


class UsedToken(models.Model):
    """A single-use token (unsubscribe link, confirmation link) that was used: a second use is
    refused."""

    nonce = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16)
    used_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.kind


class SuppressionEntry(models.Model):
    """An address that must not receive marketing on a channel, kept as a keyed hash so that it
    stays unsubscribed after the person's data is erased."""

    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    address_hash = models.CharField(_("address (keyed hash)"), max_length=64)
    reason = models.CharField(_("reason"), max_length=32)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The day the person told Inper, where staff recorded it later (a trade show, a letter);
    # empty where it was recorded as it happened.
    told_on = models.DateField(_("told on"), null=True, blank=True)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppression list")
        constraints = [
            models.UniqueConstraint(fields=("channel", "address_hash"), name="consent_suppression")
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address_hash[:12]}…"


class InboundSms(models.Model):
    """An SMS the provider forwarded to the webhook; its id makes a replay detectable."""

    provider_message_id = models.CharField(max_length=100, unique=True)
    phone_hash = models.CharField(max_length=64)
    keyword = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("inbound text message")
        verbose_name_plural = _("inbound text messages")

    def __str__(self) -> str:
        return self.provider_message_id


# --- API clients and webhook pushes -----------------------------------------------------------


class ApiScope(models.TextChoices):
    READ = "consent:read", _("Read a person's current consent")
    WRITE = "consent:write", _("Record consent events")
    CHANGES = "consent:changes", _("List changes since a cursor")
    REQUESTS_WRITE = "requests:write", _("File data-subject requests")
    REQUESTS_READ = "requests:read", _("Follow the data-subject requests it filed")


class ApiClient(models.Model):
    """One of Inper's other systems that uses the consent API."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    # The audit trail records actions of API clients as such.
    audit_actor_type = "api"

    def __str__(self) -> str:
        return self.name

    @property
    def is_authenticated(self) -> bool:
        """An API client is authenticated by its token (Django REST framework asks)."""
        return True


class ApiToken(models.Model):
    """A bearer token of an API client. Only its SHA-256 is stored; the token is shown once."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(_("prefix"), max_length=12, unique=True)
    token_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}…"


class IdempotentRequest(models.Model):
    """An API write with an ``Idempotency-Key``: a retry returns the first answer."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    #: The event recorded; none when the answer was that the person must confirm (202).
    event = models.ForeignKey(
        ConsentEvent, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("client", "key"), name="consent_idempotency_key")
        ]

    def __str__(self) -> str:
        return self.key


class WebhookSubscription(models.Model):
    """An Inper system that wants consent changes pushed to it (HMAC-signed POSTs)."""

    client = models.ForeignKey(
        ApiClient,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        verbose_name=_("API client"),
    )
    url = models.URLField(_("URL"), max_length=500)
    secret_encrypted = models.BinaryField(editable=False)
    kinds = models.JSONField(
        _("purpose kinds"),
        default=list,
        blank=True,
        help_text=_("Empty: every kind. Choices of anonymous banner visitors are never pushed."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return f"{self.client} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One push of one or more events to one subscription, retried with backoff."""

    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("subscription"),
    )
    event_ids = models.JSONField(default=list)
    status = models.CharField(
        _("status"), max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ("-id",)
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=("status", "next_attempt_at"), name="consent_delivery_due")]

    def __str__(self) -> str:
        return f"#{self.pk}"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: the delivery log."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    attempted_at = models.DateTimeField(_("attempted at"), auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        ordering = ("id",)
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"#{self.pk}"
