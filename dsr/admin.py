"""Staff admin for requests (here) and the data-store registry (``admin_stores``).

Support staff record requests received by phone, e-mail, post or in person (with how they
checked the person's identity) and follow their status; they never see export contents.
Decisions belong to compliance officers, on the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from django_stubs_ext import StrOrPromise

from accounts.validators import validate_mailable_email, validate_plain_lines, validate_plain_text
from privacy_portal.admin_site import AuditedModelAdmin, PortalModelAdmin
from privacy_portal.forms import ReceivedOnField, start_of

from .consent_bridge import purpose_choices, wrong_purposes_message
from .dashboard.labels import (
    STATE_LABELS,
    TYPE_LABELS,
    outcome_label,
    state_label,
    type_label,
)
from .dashboard.selectors import staff_name
from .identity import account_holding, account_name_differs
from .models import Channel, DataSubjectRequest, ErasureRecord, IdentityMethod, RequestType, State
from .services import (
    PER_PURPOSE_TYPES,
    Intake,
    dsr_intake_validate,
    dsr_request_file,
    has_visible_text,
)

# --- requests ----------------------------------------------------------------------------------

STAFF_CHANNELS = [
    (c.value, c.label) for c in (Channel.PHONE, Channel.EMAIL, Channel.IN_PERSON, Channel.POST)
]
STAFF_IDENTITY = [
    ("", _("Not checked: e-mail the person a confirmation link")),
    *[(m.value, m.label) for m in IdentityMethod if m.value.startswith("staff_")],
]


class StaffRequestForm(forms.ModelForm[DataSubjectRequest]):
    """A request received by phone, e-mail, post or in person."""

    channel = forms.ChoiceField(label=_("Received by"), choices=STAFF_CHANNELS)
    country = forms.ChoiceField(
        label=_("Country"), required=False, choices=lambda: [("", "—"), *list(countries)]
    )
    purposes = forms.MultipleChoiceField(
        label=_("Uses of data objected to or withdrawn"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=purpose_choices,
        help_text=_(
            "For objections and withdrawals only. Someone known only by a phone number who "
            "wants no more texts or calls: use “Record a choice on a person's behalf” under "
            "Current choices, which takes the number."
        ),
    )
    language = forms.ChoiceField(
        label=_("Language of our e-mails to the person"),
        required=False,
        choices=lambda: [("", _("As in their account (if any)")), *settings.LANGUAGES],
    )
    received_on = ReceivedOnField(
        label=_("Received on"),
        help_text=_(
            "The day the request reached Inper, if not today (a letter, an e-mail read late): "
            "the deadline counts from it."
        ),
    )
    identity_method = forms.ChoiceField(
        label=_("How did you check the person's identity?"), required=False, choices=STAFF_IDENTITY
    )
    identity_note = forms.CharField(
        label=_("What exactly did you check?"),
        required=False,
        max_length=500,
        validators=[validate_plain_lines],
        help_text=_(
            "For example: called back the number on the last order. Required when you "
            "checked the identity yourself."
        ),
    )

    class Meta:
        model = DataSubjectRequest
        fields = ("type", "email", "full_name", "details")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # In staff words, as the dashboard names them (the model's speak as the person).
        kind: Any = self.fields["type"]
        kind.choices = [("", "---------"), *[(value, type_label(value)) for value in RequestType]]
        self.fields["email"].required = True
        self.fields["email"].validators.append(validate_mailable_email)
        self.fields["full_name"].validators.append(validate_plain_text)
        self.fields["details"].validators.append(validate_plain_lines)

    def intake(self) -> Intake:
        data = self.cleaned_data
        return Intake(
            type=data.get("type", ""),
            email=data.get("email", ""),
            channel=data.get("channel", ""),
            full_name=data.get("full_name", ""),
            country=data.get("country", ""),
            language=data.get("language", ""),
            details=data.get("details", ""),
            purposes=tuple(data.get("purposes") or ()),
            identity_method=data.get("identity_method", ""),
            identity_note=data.get("identity_note", ""),
            received_at=start_of(data.get("received_on")),
        )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        per_purpose = cleaned.get("type") in PER_PURPOSE_TYPES
        if per_purpose and not cleaned.get("purposes"):
            # In staff's words (the services' message speaks to the person).
            self.add_error("purposes", _("Tick the uses of data the person objected to."))
        elif per_purpose and (
            wrong := wrong_purposes_message(
                cleaned["type"], cleaned.get("purposes") or (), for_staff=True
            )
        ):
            self.add_error("purposes", wrong)
        if has_visible_text(cleaned.get("identity_note", "")) and not cleaned.get(
            "identity_method"
        ):
            # Without a method the note would be dropped and a confirmation link sent.
            self.add_error(
                "identity_method",
                _("Choose how you checked the person's identity, or clear the note."),
            )
        if not self.errors:
            try:
                dsr_intake_validate(self.intake())
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned


class _StaffLabelFilter(admin.SimpleListFilter):
    """A filter on a field with choices that names them as staff do: the models' labels speak
    to the person who asked ("Waiting for you to confirm your e-mail")."""

    labels: Mapping[str, StrOrPromise]

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return list(self.labels.items())

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        return queryset.filter(**{str(self.parameter_name): value}) if value else queryset


class StateFilter(_StaffLabelFilter):
    title = _("state")
    parameter_name = "state"
    labels = STATE_LABELS


class TypeFilter(_StaffLabelFilter):
    title = _("type")
    parameter_name = "type"
    labels = TYPE_LABELS


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(AuditedModelAdmin):
    list_display = ("reference", "type_name", "state_name", "channel", "received_at", "due_at")
    list_filter = (StateFilter, TypeFilter, "channel", "regime")
    # The name given with the request, in any case and with or without its accents.
    search_fields = ("=reference", "=email", "full_name__unaccent")
    ordering = ("-received_at",)
    date_hierarchy = "received_at"
    list_per_page = 50
    show_full_result_count = False
    readonly_fields = (
        "reference",
        "type_name",
        "state_name",
        "regime",
        "channel",
        "received_at",
        "due_at",
        "identity_method",
        "identity_note",
        "verified_at",
        "completed_at",
        "outcome_name",
        "duplicate_of_reference",
        "recorded_by_name",
        "email",
        "full_name",
        "purposes_named",
        "details",
    )
    fieldsets = (
        (None, {"fields": ("reference", "type_name", "state_name", "channel", "regime")}),
        # What was recorded, for the colleague who recorded it to check.
        (_("Person"), {"fields": ("email", "full_name", "purposes_named", "details")}),
        (
            _("Dates"),
            {"fields": ("received_at", "due_at", "verified_at", "completed_at")},
        ),
        (_("Identity"), {"fields": ("identity_method", "identity_note")}),
        (_("Outcome"), {"fields": ("outcome_name", "duplicate_of_reference", "recorded_by_name")}),
    )

    @admin.display(description=_("type"), ordering="type")
    def type_name(self, obj: DataSubjectRequest) -> str:
        return type_label(obj.type)

    @admin.display(description=_("state"), ordering="state")
    def state_name(self, obj: DataSubjectRequest) -> str:
        return state_label(obj.state)

    # The fields below have no label of their own, or show a code or an account number.

    @admin.display(description=_("outcome"))
    def outcome_name(self, obj: DataSubjectRequest) -> str:
        return outcome_label(obj.outcome) if obj.outcome else self.get_empty_value_display()

    @admin.display(description=_("uses of data objected to or withdrawn"))
    def purposes_named(self, obj: DataSubjectRequest) -> str:
        titles = dict(purpose_choices())
        named = [str(titles.get(key, key)) for key in obj.purposes or ()]
        return ", ".join(named) or self.get_empty_value_display()

    @admin.display(description=_("duplicate of"))
    def duplicate_of_reference(self, obj: DataSubjectRequest) -> str:
        original = obj.duplicate_of
        return original.reference if original else self.get_empty_value_display()

    @admin.display(description=_("recorded by"))
    def recorded_by_name(self, obj: DataSubjectRequest) -> str:
        staff = obj.recorded_by
        return staff_name(staff) if staff else self.get_empty_value_display()

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """Fill in who the request is for (support's customer pages link here): the address,
        and for a customer their name, country and language; never the type, the day received
        or how identity was checked, which a crafted link could otherwise put before support
        ready to save."""
        from accounts.admin import linked_person

        return {name: value for name, value in linked_person(request).items() if value}

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            return StaffRequestForm
        kwargs["labels"] = {"verified_at": _("identity confirmed at")}
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return (
                (
                    None,
                    {
                        "fields": (
                            "type",
                            "channel",
                            "received_on",
                            "email",
                            "full_name",
                            "country",
                            "language",
                            "purposes",
                            "details",
                        )
                    },
                ),
                (_("Identity"), {"fields": ("identity_method", "identity_note")}),
            )
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # decisions are taken on the dashboard, through the workflow

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """File the request through the workflow, as any other channel does."""
        created = dsr_request_file(intake=form.intake(), actor=request.user)
        obj.pk, obj.reference, obj.state = created.pk, created.reference, created.state
        obj.duplicate_of, obj.due_at = created.duplicate_of, created.due_at
        obj.user_id, obj.full_name = created.user_id, created.full_name

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        if obj.state == State.DUPLICATE and obj.duplicate_of is not None:
            # Said before Django's "added successfully", which alone would hide that nothing
            # new starts.
            messages.warning(
                request,
                _(
                    "The person already has an open request of this kind, %(original)s: this "
                    "one is recorded as its duplicate and that one goes on. The person was "
                    "told by e-mail."
                )
                % {"original": obj.duplicate_of.reference},
            )
        elif obj.state == State.AWAITING_IDENTITY and account_holding(obj.email) is not None:
            # Recorded without a check of who called: not the account's request until the
            # person confirms it, which support may not expect for a customer they found.
            messages.warning(
                request,
                _(
                    "This address belongs to a customer account. As you did not record how you "
                    "checked who asked, the request waits for the person to confirm it from the "
                    "e-mail we sent them; it joins their account's requests once they do."
                ),
            )
        # Also for a duplicate, which is not linked to the account but is read with its request.
        unlinked = obj.user_id is None and obj.email
        holder = account_name_differs(obj, account_holding(obj.email) if unlinked else None)
        if holder:
            messages.warning(
                request,
                _(
                    "The name given, %(given)s, is not the name of the customer account this "
                    "address belongs to (%(holder)s): the request is about that account. If the "
                    "person who asked does not hold it, tell a compliance officer before it is "
                    "approved."
                )
                % {"given": obj.full_name, "holder": holder},
            )
        if obj.state != State.DUPLICATE and obj.due_at < timezone.now():
            # Received long before it was recorded: the officers must know today.
            messages.warning(
                request,
                _(
                    "This request was due on %(due)s, so it is already overdue: tell a "
                    "compliance officer today."
                )
                % {"due": date_format(timezone.localtime(obj.due_at), "DATE_FORMAT")},
            )
        return super().response_add(request, obj, post_url_continue)

    def _audit_scope(self, obj: Any) -> str:
        return f"dsr.datasubjectrequest:{obj.pk}"


@admin.register(ErasureRecord)
class ErasureRecordAdmin(PortalModelAdmin):
    list_display = ("reference", "created_at")
    search_fields = ("=reference",)
    readonly_fields = ("reference", "identity_hashes", "receipts", "created_at", "signature")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The registry and manual steps have their own module; importing it registers them.
from . import admin_stores  # noqa: E402, F401
