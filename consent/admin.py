"""Staff screens of consent: support records choices received by phone, e-mail or in person;
compliance officers read the ledger (filters, CSV export) and the current choices; superusers
manage the catalogue, policy versions, API clients and webhooks. No screen can add, change or
delete a ledger event: the ledger is written only by the services."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from accounts.models import User
from privacy_portal.admin_site import AuditedModelAdmin, PortalModelAdmin
from privacy_portal.audit.services import audit_record
from privacy_portal.crypto import encrypt
from privacy_portal.forms import start_of
from privacy_portal.pseudonymise import email_hash

from . import services
from .api.authentication import api_client_forget, api_token_issue, api_token_revoke
from .forms import StaffRecordForm
from .models import (
    ApiClient,
    ApiScope,
    ApiToken,
    Channel,
    ConsentEvent,
    ConsentState,
    CookieService,
    PolicyDocument,
    PolicyVersion,
    Purpose,
    PurposeVersion,
    Source,
    SuppressionEntry,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)


class ReadOnlyAdmin(PortalModelAdmin):
    """Viewable by those with the view permission; nobody adds, changes or deletes here."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    """Rows shown under their parent, never added, changed or deleted there."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- texts per language -----------------------------------------------------------------------


TEXT_LABELS = {
    "title": gettext_lazy("Title"),
    "description": gettext_lazy("Description"),
    "summary": gettext_lazy("Summary of changes"),
    "purpose": gettext_lazy("Purpose"),
    "lifetime": gettext_lazy("Lifetime"),
}


def with_language_fields(*names: str, long: frozenset[str] = frozenset(), required: bool = True):  # type: ignore[no-untyped-def]
    """Declare a text box per language for each of ``names`` on a form class (declared, so that
    the admin renders them), named ``<name>_<language>``; only the default language is
    required."""

    def decorate(cls: Any) -> Any:
        for code, language in settings.LANGUAGES:
            for name in names:
                field = forms.CharField(
                    label=format_lazy("{} ({})", TEXT_LABELS[name], language),
                    required=required and code == settings.LANGUAGE_CODE,
                    widget=forms.Textarea(attrs={"rows": 3}) if name in long else None,
                )
                cls.base_fields[f"{name}_{code}"] = field
                cls.declared_fields[f"{name}_{code}"] = field
        return cls

    return decorate


class TextsForm(forms.ModelForm):  # type: ignore[type-arg]
    """Edits a ``texts`` JSON field as one text box per language and text field."""

    text_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        texts = self.initial_texts()
        for code, _name in settings.LANGUAGES:
            for field in self.text_fields:
                self.fields[f"{field}_{code}"].initial = texts.get(code, {}).get(field, "")

    def initial_texts(self) -> dict[str, Any]:
        return dict(getattr(self.instance, "texts", None) or {})

    def cleaned_texts(self) -> dict[str, dict[str, str]]:
        texts: dict[str, dict[str, str]] = {}
        for code, _name in settings.LANGUAGES:
            values = {f: self.cleaned_data.get(f"{f}_{code}", "").strip() for f in self.text_fields}
            if any(values.values()):
                texts[code] = values
        return texts


@with_language_fields("title", "description", long=frozenset({"description"}))
class PurposeForm(TextsForm):
    text_fields = ("title", "description")
    material = forms.BooleanField(
        label=gettext_lazy("Material change"),
        required=False,
        initial=True,
        help_text=gettext_lazy(
            "If the text changes, people who consented to the earlier text are asked again. "
            "Untick only for corrections that do not change the meaning."
        ),
    )
    change_summary = forms.CharField(
        label=gettext_lazy("Summary of the change"), required=False, max_length=300
    )

    class Meta:
        model = Purpose
        fields = (
            "key",
            "kind",
            "channel",
            "legal_basis",
            "default_granted",
            "always_on",
            "honours_gpc",
            "double_opt_in",
            "position",
            "is_active",
        )

    def initial_texts(self) -> dict[str, Any]:
        version = self.instance.current_version if self.instance.pk else None
        return dict(version.texts) if version else {}


class PurposeVersionInline(ReadOnlyInline):
    model = PurposeVersion
    fields = ("version", "title", "material", "change_summary", "created_at")


@admin.register(Purpose)
class PurposeAdmin(AuditedModelAdmin):
    form = PurposeForm
    list_display = ("key", "title_en", "kind", "channel", "legal_basis", "version", "is_active")
    list_filter = ("kind", "legal_basis", "is_active")
    search_fields = ("key",)
    # The title and version columns read the current version: joined, not one query a row.
    list_select_related = ("current_version",)
    inlines = (PurposeVersionInline,)

    @admin.display(description=gettext_lazy("title"))
    def title_en(self, obj: Purpose) -> str:
        return obj.title()

    @admin.display(description=gettext_lazy("version"))
    def version(self, obj: Purpose) -> int | None:
        return obj.current_version.version if obj.current_version else None

    def save_model(self, request: HttpRequest, obj: Purpose, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        assert isinstance(request.user, User)  # noqa: S101 (staff admin)
        if services.purpose_text_update(
            purpose_id=obj.pk,
            texts=form.cleaned_texts(),
            material=form.cleaned_data.get("material", True),
            change_summary=form.cleaned_data.get("change_summary", ""),
            actor=request.user,
        ):
            messages.info(request, _("A new version of the text was published."))
        from .catalogue import catalogue_invalidate

        catalogue_invalidate()


@with_language_fields("description", long=frozenset({"description"}))
class CookieServiceForm(TextsForm):
    text_fields = ("description",)
    privacy_url = forms.URLField(
        label=gettext_lazy("Provider's privacy information"), required=False, assume_scheme="https"
    )

    class Meta:
        model = CookieService
        fields = ("category", "name", "provider", "privacy_url", "position")

    def save(self, commit: bool = True) -> Any:
        self.instance.texts = self.cleaned_texts()
        return super().save(commit)


@with_language_fields("purpose", "lifetime", long=frozenset({"purpose"}))
class CookieForm(TextsForm):
    text_fields = ("purpose", "lifetime")

    class Meta:
        from .models import Cookie

        model = Cookie
        fields = ("name", "domain", "first_party")

    def save(self, commit: bool = True) -> Any:
        self.instance.texts = self.cleaned_texts()
        return super().save(commit)


class CookieInline(admin.StackedInline):  # type: ignore[type-arg]
    from .models import Cookie

    model = Cookie
    form = CookieForm
    extra = 0


@admin.register(CookieService)
class CookieServiceAdmin(AuditedModelAdmin):
    form = CookieServiceForm
    list_display = ("name", "provider", "category")
    list_filter = ("category",)
    inlines = (CookieInline,)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        from .catalogue import catalogue_invalidate

        catalogue_invalidate()


# --- policy versions --------------------------------------------------------------------------


@with_language_fields("summary", long=frozenset({"summary"}))
class PolicyPublishForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = PolicyVersion
        fields = ("document", "material", "body")


@admin.register(PolicyVersion)
class PolicyVersionAdmin(PortalModelAdmin):
    """Publishing is adding a version; a published version is never changed or deleted."""

    list_display = ("document", "version", "published_at", "material")
    list_filter = ("document", "material")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = PolicyPublishForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [
                "document",
                "material",
                "body",
                *(f"summary_{c}" for c, _n in settings.LANGUAGES),
            ]
        return ["document", "version", "published_at", "material", "summary", "body"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else [f.name for f in PolicyVersion._meta.fields]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        document = request.GET.get("document", PolicyDocument.PRIVACY_STATEMENT)
        last = PolicyVersion.objects.filter(document=document).order_by("-version").first()
        return {"document": document, "body": last.body if last else ""}

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        assert isinstance(request.user, User)  # noqa: S101 (staff admin)
        published = services.policy_publish(
            document=form.cleaned_data["document"],
            body=form.cleaned_data["body"],
            material=form.cleaned_data["material"],
            summary={
                code: form.cleaned_data.get(f"summary_{code}", "")
                for code, _name in settings.LANGUAGES
                if form.cleaned_data.get(f"summary_{code}")
            },
            actor=request.user,
        )
        obj.pk = published.pk

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- the ledger and current choices -----------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


class AddressSearch:
    """Finds a person's ledger rows by their e-mail address, also where the ledger keeps it
    only as a keyed hash: a contact without an account (a trade show, a phone call) is found
    as an account holder is."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        found, duplicates = super().get_search_results(  # type: ignore[misc]
            request, queryset, search_term
        )
        term = search_term.strip()
        if "@" in term and " " not in term:
            found = found | queryset.filter(subject__email_hash=email_hash(term))
        return found, duplicates


@admin.display(description=gettext_lazy("consent subject"), ordering="subject_id")
def subject_number(obj: ConsentEvent | ConsentState) -> str:
    """The consent subject's number, under a heading in the staff member's language."""
    return str(obj.subject_id)


def purpose_said(purpose: Purpose) -> str:
    """A purpose as people read it ("Newsletter by e-mail"), in the staff member's language,
    with its key."""
    from .catalogue import catalogue

    entry = catalogue().by_key.get(purpose.key)
    title = entry.title(get_language()) if entry else purpose.key
    return f"{title} ({purpose.key})"


@admin.display(description=gettext_lazy("customer"), ordering="subject__user_id")
def customer_link(obj: ConsentEvent | ConsentState) -> Any:
    """The customer whose choice it is, linked to their account (a contact without one: a
    dash)."""
    user_id = obj.subject.user_id
    if not user_id:
        return "—"
    return format_html(
        '<a href="{}">{}</a>',
        reverse("admin:accounts_user_change", args=[user_id]),
        _("Customer %(id)s") % {"id": user_id},
    )


class PurposeFilter(admin.RelatedFieldListFilter):
    """The purposes by what they are called, not by their keys."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[Any]:
        return [(purpose.pk, purpose_said(purpose)) for purpose in Purpose.objects.all()]


@admin.register(ConsentEvent)
class ConsentEventAdmin(AddressSearch, ReadOnlyAdmin):
    list_display = (
        "id",
        "occurred_at",
        subject_number,
        customer_link,
        "choice",
        "granted",
        "source",
        "actor_type",
        "ip_truncated",
    )
    list_filter = ("source", "granted", "purpose__kind", ("purpose", PurposeFilter), "actor_type")
    search_fields = ("=subject__id", "=subject__user__email")
    date_hierarchy = "occurred_at"
    list_select_related = ("purpose", "subject")
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description=gettext_lazy("choice about"), ordering="purpose__key")
    def choice(self, obj: ConsentEvent) -> str:
        return purpose_said(obj.purpose)

    def get_urls(self) -> list[Any]:
        urls = [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_csv),
                name="consent_consentevent_export",
            )
        ]
        return urls + super().get_urls()

    def has_export_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("consent.export_consentevent"))

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {**(extra_context or {}), "can_export": self.has_export_permission(request)}
        return super().changelist_view(request, extra)

    def export_csv(self, request: HttpRequest) -> HttpResponseBase:
        """Stream the events the current filters select as CSV (audited)."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        refused = self.kept_search_apply(request)  # the list's search, by its key
        if refused is not None:
            return refused
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            # A filter the list cannot apply: answered as the list answers it.
            return HttpResponseRedirect(
                f"{reverse('admin:consent_consentevent_changelist')}?{ERROR_FLAG}=1"
            )
        audit_record(
            actor=request.user,
            action="consent.ledger.exported",
            target=("consent.consentevent", "export"),
            after={"filters": sorted(k for k in request.GET if k not in ("o", "p"))},
        )
        writer = csv.writer(_Echo())

        def rows() -> Iterator[str]:
            yield writer.writerow(
                [
                    "id",
                    "occurred_at",
                    "subject_id",
                    "customer_id",
                    "purpose",
                    "purpose_version",
                    "granted",
                    "source",
                    "policy_version",
                    "language",
                    "text_hash",
                    "ip_truncated",
                    "user_agent_hash",
                    "actor_type",
                    "actor_id",
                    "received_via",
                    "received_on",
                ]
            )
            for event in queryset.select_related(
                "subject", "purpose", "purpose_version", "policy_version"
            ).iterator(chunk_size=2000):
                yield writer.writerow(
                    [
                        event.pk,
                        event.occurred_at.isoformat(),
                        event.subject_id,
                        event.subject.user_id or "",
                        event.purpose.key,
                        event.purpose_version.version,
                        "granted" if event.granted else "withdrawn",
                        event.source,
                        event.policy_version.version if event.policy_version else "",
                        event.language,
                        event.text_hash,
                        event.ip_truncated,
                        event.user_agent_hash,
                        event.actor_type,
                        event.actor_id or "",
                        (event.evidence or {}).get("received_via", ""),
                        (event.evidence or {}).get("received_on", ""),
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="consent-ledger-{stamp}.csv"'
        return response


class ObjectionFilter(admin.SimpleListFilter):
    title = gettext_lazy("objections")
    parameter_name = "objection"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("transfers", _("Objections to transfers to other countries"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "transfers":
            return queryset.filter(purpose__key="international_transfers", granted=False)
        return queryset


@admin.register(ConsentState)
class ConsentStateAdmin(AddressSearch, ReadOnlyAdmin):
    list_display = ("choice", subject_number, customer_link, "granted", "source", "updated_at")
    list_display_links = ("choice",)
    list_filter = (
        ObjectionFilter,
        "granted",
        "source",
        "purpose__kind",
        ("purpose", PurposeFilter),
    )
    search_fields = ("=subject__id", "=subject__user__email")
    list_select_related = ("purpose", "subject")
    show_full_result_count = False

    @admin.display(description=gettext_lazy("choice about"), ordering="purpose__key")
    def choice(self, obj: ConsentState) -> str:
        """The purpose in words with its key: a link of words, not a bare number."""
        return purpose_said(obj.purpose)

    def get_urls(self) -> list[Any]:
        urls = [
            path(
                "record/",
                self.admin_site.admin_view(self.record_view),
                name="consent_consentstate_record",
            ),
            path(
                "do-not-contact/",
                self.admin_site.admin_view(self.suppression_check_view),
                name="consent_consentstate_suppression_check",
            ),
        ]
        return urls + super().get_urls()

    def suppression_check_view(self, request: HttpRequest) -> HttpResponse:
        """Whether an e-mail address or a phone number is on the do-not-contact list, and since
        when: what support tells a person who asks whether their opt-out was recorded. Only an
        exact address is looked up (the list holds keyed hashes)."""
        from .forms import SuppressionCheckForm
        from .selectors import marketing_choices_of, suppressed_since

        if not request.user.has_perm("consent.record_on_behalf"):
            raise PermissionDenied
        # Posted: an address or a number never goes into a URL (history, proxies, logs).
        form = SuppressionCheckForm(request.POST if request.method == "POST" else None)
        found: list[tuple[str, Any]] | None = None
        chosen: list[Any] = []
        by_phone = False
        if form.is_valid():
            kind, address = form.cleaned_data["address"]
            since = suppressed_since(**{kind: address})
            reached_by: dict[str, str] = {
                Channel.EMAIL: _("marketing by e-mail"),
                Channel.SMS: _("text messages"),
                Channel.PHONE: _("marketing calls"),
            }
            found = [(reached_by.get(channel, channel), at) for channel, at in since.items()]
            chosen = marketing_choices_of(**{kind: address})
            by_phone = kind == "phone"
        context = {
            **self.admin_site.each_context(request),
            "title": _("Is this address on the do-not-contact list?"),
            "form": form,
            "found": found,
            "chosen": chosen,
            # What support says first: the channels on, if any.
            "agreed": list(
                dict.fromkeys(str(choice.title) for _subject, choice in chosen if choice.granted)
            ),
            "by_phone": by_phone,
            "opts": self.model._meta,
        }
        status = 400 if form.is_bound and not form.is_valid() else 200
        return render(request, "admin/consent/suppression_check.html", context, status=status)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {
            **(extra_context or {}),
            "can_record": request.user.has_perm("consent.record_on_behalf"),
        }
        return super().changelist_view(request, extra)

    def record_view(self, request: HttpRequest) -> HttpResponse:
        """Record a choice a person made by phone, e-mail or in person (source staff)."""
        if not request.user.has_perm("consent.record_on_behalf"):
            raise PermissionDenied
        # From a customer's page, or the search that found no account: who it is for.
        from accounts.admin import linked_person

        linked = linked_person(request)
        form = StaffRecordForm(
            request.POST if request.method == "POST" else None,
            initial={name: linked[name] for name in ("email", "phone") if linked.get(name)},
        )
        if request.method == "POST" and form.is_valid():
            staff = request.user
            assert isinstance(staff, User)  # noqa: S101 (staff admin, checked above)
            data = form.cleaned_data
            # How it was received is in the evidence (``received_via``): the note is as typed.
            note = data["note"]
            evidence = form.evidence()
            phone_keys = form.phone_purposes()
            if data["phone"] and phone_keys:
                services.consent_stop_by_phone(
                    phone=data["phone"],
                    purpose_keys=phone_keys,
                    actor=staff,
                    request=request,
                    note=note,
                    evidence=evidence,
                )
            if not data["email"]:
                messages.success(request, _("Recorded: the number is on the do-not-contact list."))
                return HttpResponseRedirect(reverse("admin:consent_consentstate_changelist"))
            subject = services.subject_for_email(data["email"])
            try:
                if data["decision"] == "stop_marketing":
                    was_on = services.marketing_on(subject)
                    services.consent_stop_all_marketing(
                        subject=subject,
                        source=Source.STAFF,
                        actor=staff,
                        request=request,
                        note=note,
                        evidence=evidence,
                        every_channel=True,
                    )
                    message = ngettext(
                        "Recorded: all marketing stopped (%(count)s channel was on).",
                        "Recorded: all marketing stopped (%(count)s channels were on).",
                        len(was_on),
                    ) % {"count": len(was_on)}
                else:
                    outcome = services.consent_choose(
                        subject=subject,
                        purpose_key=data["purpose"],
                        granted=data["decision"] == "grant",
                        source=Source.STAFF,
                        actor=staff,
                        request=request,
                        note=note,
                        evidence=evidence,
                        email=data["email"],
                    )
                    message = (
                        _("A confirmation e-mail was sent; the consent counts once confirmed.")
                        if outcome.pending
                        else _("Recorded.")
                    )
                    if data["decision"] == "withdraw":
                        message = _tell_other_systems(data, staff) or message
            except services.ConsentError as error:
                form.add_error("purpose", str(error))
            else:
                if phone_keys and not data["phone"]:
                    message = "{} {}".format(
                        message,
                        _(
                            "No phone number was given: record the choice again with the "
                            "number if the person said it, so that the number itself is "
                            "neither called nor texted."
                        ),
                    )
                messages.success(request, message)
                return HttpResponseRedirect(reverse("admin:consent_consentstate_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Record a choice on a person's behalf"),
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "admin/consent/record.html", context)


def _tell_other_systems(data: dict[str, Any], staff: User) -> str:
    """File the request that makes Inper's other systems stop using the person's data for a
    purpose support switched off, as the person's own switching off does; return what to
    tell support ("" if no system acts on the purpose)."""
    from dsr.consent_bridge import file_for_staff_switch_off, request_for_switch_off

    request_type = request_for_switch_off(data["purpose"])
    if not request_type:
        return ""
    filed = file_for_staff_switch_off(
        email=data["email"],
        purpose_key=data["purpose"],
        request_type=request_type,
        received_via=data["received_via"],
        received_at=start_of(data.get("received_on")),
        actor=staff,
    )
    if filed.state == "awaiting_identity":
        return _(
            "Recorded. Inper's other systems that use the person's data this way are told by "
            "request %(reference)s, once the person confirms it from the e-mail we sent them."
        ) % {"reference": filed.reference}
    return _(
        "Recorded. Request %(reference)s tells Inper's other systems that use the person's "
        "data this way to stop too."
    ) % {"reference": filed.reference}


@admin.register(SuppressionEntry)
class SuppressionEntryAdmin(ReadOnlyAdmin):
    list_display = ("channel", "address_hash", "reason", "created_at", "told_on")
    list_filter = ("channel", "reason")


# --- API clients and webhooks -----------------------------------------------------------------


class ApiClientForm(forms.ModelForm):  # type: ignore[type-arg]
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = ApiClient
        fields = ("name", "scopes", "is_active")


class ApiTokenInline(ReadOnlyInline):
    model = ApiToken
    fields = ("prefix", "created_at", "expires_at", "revoked_at")


@admin.register(ApiClient)
class ApiClientAdmin(AuditedModelAdmin):
    form = ApiClientForm
    list_display = ("name", "scopes", "is_active", "created_at")
    inlines = (ApiTokenInline,)
    actions = ("issue_token", "revoke_tokens")

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        api_client_forget(obj)

    def delete_model(self, request: HttpRequest, obj: ApiClient) -> None:
        api_client_forget(obj)  # its tokens go with it: refuse them at once, not in a minute
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            api_client_forget(client)
        super().delete_queryset(request, queryset)

    @admin.action(description=gettext_lazy("Issue a new token (shown once)"))
    def issue_token(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            row, token = api_token_issue(client=client)
            audit_record(actor=request.user, action="consent.api.token_issued", target=row)
            messages.warning(
                request,
                _("Token for %(client)s (copy it now, it is not shown again): %(token)s")
                % {"client": client.name, "token": token},
            )

    @admin.action(description=gettext_lazy("Revoke every token"))
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for token in ApiToken.objects.filter(client__in=queryset, revoked_at=None):
            api_token_revoke(token=token)
            audit_record(actor=request.user, action="consent.api.token_revoked", target=token)
        messages.success(request, _("The tokens were revoked."))


class WebhookSubscriptionForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.URLField(label=gettext_lazy("URL"), max_length=500, assume_scheme="https")
    kinds = forms.MultipleChoiceField(
        choices=[("marketing", "marketing"), ("processing", "processing"), ("cookie", "cookie")],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=gettext_lazy("Purpose kinds (none: all)"),
    )

    class Meta:
        model = WebhookSubscription
        fields = ("client", "url", "kinds", "is_active")

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if not (settings.DEBUG or getattr(settings, "PORTAL_DEMO", False)) and not url.startswith(
            "https://"
        ):
            raise forms.ValidationError(_("Use an https:// address."))
        return url


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(AuditedModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ("client", "url", "is_active", "created_at")
    actions = ("rotate_secret",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            self._new_secret(request, obj)
        super().save_model(request, obj, form, change)

    @staticmethod
    def _new_secret(request: HttpRequest, obj: WebhookSubscription) -> None:
        import secrets

        secret = secrets.token_urlsafe(32)
        obj.secret_encrypted = encrypt(secret.encode())
        messages.warning(
            request,
            _("Signing secret for %(url)s (copy it now, it is not shown again): %(secret)s")
            % {"url": obj.url, "secret": secret},
        )

    @admin.action(description=gettext_lazy("Rotate the signing secret (shown once)"))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            self._new_secret(request, subscription)
            subscription.save(update_fields=["secret_encrypted"])
            audit_record(
                actor=request.user, action="consent.webhook.secret_rotated", target=subscription
            )


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("attempted_at", "status_code", "error", "duration_ms")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "subscription", "status", "attempts", "created_at", "delivered_at")
    list_filter = ("status",)
    inlines = (WebhookAttemptInline,)
