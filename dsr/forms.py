"""Forms for filing and following data-subject requests, and for marking a manual step done."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import FileExtensionValidator
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from django_stubs_ext import StrOrPromise

from accounts.validators import (
    normalise_line_breaks,
    validate_mailable_email,
    validate_plain_lines,
    validate_plain_text,
)

from .consent_bridge import purpose_choices, purpose_types, wrong_purposes_message
from .models import Action, IdentityMethod, RejectionReason, RequestType
from .stores import MISSING_COPY

TYPE_HELP: dict[str, StrOrPromise] = {
    RequestType.ACCESS: _(
        "We send you a copy of what Inper's systems hold about you, with where it comes from, "
        "why we use it, who receives it and how long we keep it. Its cover letter names any "
        "system the copy cannot include, and how to ask it."
    ),
    RequestType.PORTABILITY: _(
        "The data you gave us, in files other services can read (JSON "
        "and CSV), so that you can take it elsewhere."
    ),
    RequestType.RECTIFICATION: _(
        "Tell us what is wrong. We correct it in every system, and tell those we shared it with."
    ),
    RequestType.ERASURE: _(
        "We delete your data everywhere, except what the law makes us keep "
        "(orders, for financial regulations), which we anonymise. Your Inper account, if "
        "you have one, is deleted too: you can no longer sign in with it."
    ),
    RequestType.RESTRICTION: _(
        "We keep your data but stop using it, for example while a correction is checked."
    ),
    RequestType.OBJECTION: _(
        "Stop a particular use of your data, such as direct marketing or "
        "transfers to other countries. Objections to marketing take effect "
        "at once."
    ),
    RequestType.WITHDRAW_CONSENT: _(
        "Take back a consent you gave us. Signed in, it takes effect at once; without signing "
        "in, marketing stops at once and the rest once you confirm your e-mail address."
    ),
}


#: What a request filed asks for, as its page tells the person afterwards (the form's
#: explanations above address someone still choosing).
ASKED: dict[str, StrOrPromise] = {
    RequestType.ACCESS: _(
        "A copy of what Inper's systems hold about you, with where it comes from, why we use "
        "it, who receives it and how long we keep it."
    ),
    RequestType.PORTABILITY: _(
        "The data you gave us, in files other services can read (JSON and CSV)."
    ),
    RequestType.RECTIFICATION: _(
        "That we correct what is wrong, as you describe below, in every system, and tell "
        "those we shared it with."
    ),
    RequestType.ERASURE: _(
        "That we delete your data everywhere, except what the law makes us keep (orders, for "
        "financial regulations), which we anonymise."
    ),
    RequestType.RESTRICTION: _("That we keep your data but stop using it."),
    RequestType.OBJECTION: _("That we stop the uses of your data listed below."),
    RequestType.WITHDRAW_CONSENT: _(
        "That we stop the uses of your data listed below, as far as you had consented to them."
    ),
}


class RequestTypeWidget(forms.RadioSelect):
    """Each kind of request with its explanation. A choice sent back missing marks every
    option invalid and names the error, so that focus lands on the first with the error read
    out (the page's script focuses the first invalid field)."""

    option_template_name = "dsr/widgets/request_type_option.html"

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        attrs = option["attrs"]
        # The field's own id (id_type), of which Django names the error id_type_error.
        field_id = str(attrs.get("id", "")).rsplit("_", 1)[0]
        option["invalid"] = attrs.get("aria-invalid") == "true"
        option["error_id"] = f"{field_id}_error"
        return option


class PurposeCheckboxes(forms.CheckboxSelectMultiple):
    """The uses of one's data, each box tied to the field's error when there is one (Django
    ties it to the fieldset only), so that the first box, which gets focus, reads it out."""

    #: For each purpose, the request types that may name it (the form's script offers only
    #: those of the type chosen).
    types: dict[str, str] = {}

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        attrs = option["attrs"]
        if attrs.get("aria-invalid") == "true":
            field_id = str(attrs.get("id", "")).rsplit("_", 1)[0]
            attrs["aria-describedby"] = f"{field_id}_error"
        if str(option["value"]) in self.types:
            attrs["data-types"] = self.types[str(option["value"])]
        return option


class RequestForm(forms.Form):
    """A request by a signed-in customer."""

    type = forms.ChoiceField(
        label=_("What would you like us to do?"),
        choices=RequestType.choices,
        widget=RequestTypeWidget,
        error_messages={"required": _("Choose what you would like us to do.")},
    )
    purposes = forms.MultipleChoiceField(
        label=_("Which uses of your data?"),
        required=False,
        widget=PurposeCheckboxes,
        help_text=_("For objections and withdrawals of consent."),
    )
    details = forms.CharField(
        label=_("Details"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "For corrections: what is wrong, and what it should say. For other requests: "
            "anything that helps us (optional)."
        ),
    )

    understood = forms.BooleanField(
        label=_("I understand that an erasure cannot be undone."),
        required=False,
        help_text=_("For an erasure: what is deleted cannot be restored."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        purposes: Any = self.fields["purposes"]
        purposes.choices = purpose_choices()
        purposes.widget.types = purpose_types()

    def clean_details(self) -> str:
        value: str = normalise_line_breaks(self.cleaned_data.get("details", "")).strip()
        validate_plain_lines(value)
        return value

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        kind = cleaned.get("type")
        if kind in (RequestType.OBJECTION, RequestType.WITHDRAW_CONSENT) and not cleaned.get(
            "purposes"
        ):
            self.add_error("purposes", _("Choose at least one use of your data."))
        elif kind in (RequestType.OBJECTION, RequestType.WITHDRAW_CONSENT) and (
            wrong := wrong_purposes_message(kind, cleaned.get("purposes") or ())
        ):
            self.add_error("purposes", wrong)
        # Details refused for their characters already have their message.
        if (
            kind == RequestType.RECTIFICATION
            and not cleaned.get("details")
            and "details" not in self.errors
        ):
            self.add_error("details", _("Tell us what is wrong and what it should say."))
        if kind == RequestType.ERASURE and not cleaned.get("understood"):
            self.add_error(
                "understood",
                _("Tick the box to confirm that you understand an erasure cannot be undone."),
            )
        return cleaned


class GuestRequestForm(RequestForm):
    """A request by someone without an account (or not signed in)."""

    email = forms.EmailField(
        label=_("Your e-mail address"),
        max_length=254,
        help_text=_(
            "We send a link to this address and act once you confirm it is yours (an objection "
            "to marketing counts at once)."
        ),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    full_name = forms.CharField(
        label=_("Your name"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    country = forms.ChoiceField(
        label=_("Where do you live?"),
        choices=lambda: [("", "—"), *list(countries)],
        required=False,
        help_text=_("The law of your country decides our deadline."),
    )

    field_order = ["email", "full_name", "country", "type", "purposes", "details", "understood"]

    def clean_email(self) -> str:
        value: str = self.cleaned_data.get("email", "")
        validate_mailable_email(value)  # else the link could never be sent
        return value

    def clean_full_name(self) -> str:
        value: str = self.cleaned_data.get("full_name", "").strip()
        validate_plain_text(value)
        return value


class VerifyForm(forms.Form):
    """The confirmation step of a guest's request."""

    order_number = forms.CharField(
        label=_("One of your order numbers"),
        required=False,
        max_length=64,
        help_text=_(
            "From any order confirmation. Without one, a member of our privacy team "
            "will contact you to confirm your identity before we send or delete "
            "anything."
        ),
    )

    def clean_order_number(self) -> str:
        value: str = self.cleaned_data.get("order_number", "").strip()
        validate_plain_text(value)
        return value


class DownloadCodeForm(forms.Form):
    code = forms.CharField(
        label=_("The code from the e-mail"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class StaffIntakeFields(forms.Form):
    """What support staff record with a request received by phone, e-mail or in person."""

    identity_method = forms.ChoiceField(
        label=_("How did you check the person's identity?"),
        required=False,
        choices=[
            ("", _("I did not: send them a confirmation link")),
            *[
                (value, label)
                for value, label in IdentityMethod.choices
                if value.startswith("staff_")
            ],
        ],
    )
    identity_note = forms.CharField(
        label=_("What exactly did you check?"),
        required=False,
        max_length=500,
        validators=[validate_plain_lines],
    )


class RejectForm(forms.Form):
    # No reason chosen in advance: the officer picks the one that applies.
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[("", _("Choose…")), *RejectionReason.choices],
        error_messages={"required": _("Choose why the request is rejected.")},
    )
    note = forms.CharField(
        label=_("Explanation for the person"),
        required=False,
        max_length=2000,
        validators=[validate_plain_lines],
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        from .services import has_visible_text

        # Said at the field, with the form open, rather than as a message after a redirect; a
        # note refused already (too long) has its own message.
        if (
            cleaned.get("reason") == RejectionReason.OTHER
            and "note" not in self.errors
            and not has_visible_text(cleaned.get("note", ""))
        ):
            self.add_error("note", _("Explain the reason to the person."))
        return cleaned


class _MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class _MultipleFileField(forms.FileField):
    widget = _MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile[Any]]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(_MultipleFileField, self).clean(item, initial) for item in files]


_EVIDENCE_TYPES = ["pdf", "png", "jpg", "jpeg", "txt", "eml", "msg", "csv"]
_DATA_TYPES = ["csv", "json", "pdf", "txt", "xlsx", "xml", "zip", "png", "jpg", "jpeg"]


def _not_too_large(limit_mb: int) -> Any:
    def check(upload: UploadedFile[Any]) -> None:
        if upload.size and upload.size > limit_mb * 1024 * 1024:
            raise ValidationError(
                _("The file is larger than %(n)d MB."), params={"n": limit_mb}, code="too_large"
            )

    return check


class ManualStepForm(forms.Form):
    """Marking a manual step done (the admin's manual-step page and the dashboard): what was
    done, an optional evidence file and, for a copy, the person's data from the system."""

    note = forms.CharField(
        label=_("What you did"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=4000,
        validators=[validate_plain_lines],
        help_text=_("Kept as proof. Write what you did, not the person's data."),
    )
    evidence = forms.FileField(
        label=_("Evidence (optional)"),
        required=False,
        validators=[FileExtensionValidator(_EVIDENCE_TYPES), _not_too_large(10)],
        help_text=_("A confirmation from the system, e.g. a PDF or a screenshot."),
    )
    data_files = _MultipleFileField(
        label=_("The person's data from this system"),
        required=False,
        validators=[FileExtensionValidator(_DATA_TYPES), _not_too_large(50)],
        help_text=_("These files go into the person's copy of their data, encrypted."),
    )
    nothing_held = forms.BooleanField(
        label=_("This system holds nothing about this person"),
        required=False,
        help_text=_("Instead of files: you searched the system and found nothing."),
    )

    def __init__(self, *args: Any, action: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if action != Action.EXPORT:
            del self.fields["data_files"]
        if action in (Action.NOTIFY, Action.LIFT):
            del self.fields["nothing_held"]
        elif action != Action.EXPORT:
            # An erasure, a restriction or a correction found nothing to act on: the request
            # then says so ("no data found" where no system held anything), not "done".
            self.fields["nothing_held"].help_text = _(
                "You searched the system and found nothing about the person to act on."
            )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        # A copy step done says what it found: the person's files, or that there were none.
        if "data_files" in self.fields and "data_files" not in self.errors:
            files, nothing = cleaned.get("data_files"), cleaned.get("nothing_held")
            if not files and not nothing:
                self.add_error("data_files", MISSING_COPY)
            elif files and nothing:
                self.add_error(
                    "nothing_held",
                    _("You attached the person's data: leave “holds nothing” unticked."),
                )
        return cleaned
