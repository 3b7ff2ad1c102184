"""Forms of the consent pages and of the staff admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.validators import normalise_phone, validate_mailable_email, validate_plain_lines
from privacy_portal.forms import ReceivedOnField

from .catalogue import catalogue
from .models import PurposeKind
from .services import PHONE_CHANNELS


class ChoiceForm(forms.Form):
    """One switch of the preference centre: on or off."""

    granted = forms.TypedChoiceField(
        choices=(("on", _("On")), ("off", _("Off"))), coerce=lambda value: value == "on"
    )


class CookieChoiceForm(forms.Form):
    """The server-rendered cookie settings: a box per category, or accept / reject all."""

    action = forms.ChoiceField(
        choices=(
            ("save", _("Save")),
            ("accept_all", _("Accept all")),
            ("reject_all", _("Reject all")),
        )
    )

    def __init__(self, *args: Any, initial_granted: set[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for purpose in catalogue().cookie_categories:
            if purpose.always_on:
                continue
            self.fields[purpose.key] = forms.BooleanField(
                required=False,
                label=purpose.title(),
                initial=purpose.key in (initial_granted or set()),
            )

    def choices(self) -> dict[str, bool]:
        """Return the choice per switchable category."""
        action = self.cleaned_data["action"]
        return {
            purpose.key: (
                action == "accept_all"
                or (action == "save" and bool(self.cleaned_data.get(purpose.key)))
            )
            for purpose in catalogue().cookie_categories
            if not purpose.always_on
        }


# Named as a request's channels are (support records both).
RECEIVED_VIA = (
    ("phone", _("Phone")),
    ("email", _("E-mail")),
    ("in_person", _("In person or at a trade show")),
    ("letter", _("Post")),
)


class StaffRecordForm(forms.Form):
    """A choice a person made by phone, e-mail or in person, recorded by support."""

    email = forms.EmailField(
        label=_("The person's e-mail address"),
        max_length=254,
        required=False,
        validators=[validate_mailable_email],
        help_text=_(
            "Their account's address, or the address they gave (for contacts without one)."
        ),
    )
    phone = forms.CharField(
        label=_("Or their phone number"),
        max_length=32,
        required=False,
        help_text=_(
            "For someone who gave only a number, to stop text messages or calls: the number "
            "goes on the do-not-contact list (kept as a keyed hash, not the number)."
        ),
    )
    purpose = forms.ChoiceField(label=_("Purpose or channel"))
    decision = forms.ChoiceField(
        label=_("Their choice"),
        choices=(
            ("withdraw", _("Withdraw consent / object")),
            ("grant", _("Give consent")),
            ("stop_marketing", _("Stop all marketing")),
        ),
        widget=forms.RadioSelect,
        help_text=_(
            "A withdrawal counts at once. Consent counts once the person confirms it by the "
            "link we e-mail them."
        ),
    )
    received_via = forms.ChoiceField(label=_("Received by"), choices=RECEIVED_VIA)
    received_on = ReceivedOnField(
        label=_("Received on"),
        help_text=_(
            "The day the person told Inper, if not today (an e-mail read late, a card from a "
            "trade show). A withdrawal counts from now; the record keeps both days."
        ),
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=300,
        required=False,
        validators=[validate_plain_lines],
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Where or how, for example “trade show in Cologne”. No other personal data."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kinds = dict(PurposeKind.choices)
        field = self.fields["purpose"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 (declared above)
        field.choices = [("", _("Choose…"))] + [
            (purpose.key, f"{purpose.title()} ({kinds[purpose.kind]})")
            for purpose in catalogue().purposes
            if purpose.switchable and purpose.kind != PurposeKind.COOKIE
        ]
        if self.data.get("decision") == "stop_marketing":
            field.required = False

    def evidence(self) -> dict[str, str]:
        """How and on which day the choice reached Inper, for the ledger's events."""
        data = self.cleaned_data
        day = data.get("received_on") or timezone.localdate()
        return {"received_via": data["received_via"], "received_on": day.isoformat()}

    def phone_purposes(self) -> list[str]:
        """The purposes the decision stops that a phone number reaches (texts, calls)."""
        data = self.cleaned_data
        if data.get("decision") == "stop_marketing":
            return list(PHONE_CHANNELS)
        if data.get("decision") == "withdraw" and data.get("purpose") in PHONE_CHANNELS:
            return [data["purpose"]]
        return []

    def clean_phone(self) -> str:
        return normalise_phone(self.cleaned_data.get("phone") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if not data.get("email") and not data.get("phone"):
            raise forms.ValidationError(_("Give the person's e-mail address or phone number."))
        # A number reaches text messages and calls only; anything else, and a consent
        # (confirmed by e-mail), needs the address.
        if not data.get("email") and not self.phone_purposes():
            raise forms.ValidationError(
                _(
                    "With a phone number alone, only text messages and calls can be "
                    "stopped. For other choices, give the person's e-mail address."
                )
            )
        return data


class SuppressionCheckForm(forms.Form):
    """An e-mail address or a phone number support looks up on the do-not-contact list."""

    address = forms.CharField(
        label=_("E-mail address or phone number"),
        max_length=254,
        help_text=_("A phone number with its country code, for example +49 170 1234567."),
    )

    def clean_address(self) -> tuple[str, str]:
        """Return ``("email", address)`` or ``("phone", number in E.164)``."""
        raw = self.cleaned_data["address"].strip()
        if "@" in raw:
            return "email", forms.EmailField(validators=[validate_mailable_email]).clean(raw)
        return "phone", normalise_phone(raw)
