"""Forms for signing up and for editing what the portal holds about a customer."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import AddEmailForm as AllauthAddEmailForm
from allauth.account.forms import ChangeEmailForm as AllauthChangeEmailForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import ADDRESS_FIELDS, PROFILE_FIELDS, Address, User
from .validators import (
    normalise_phone,
    normalise_postal_code,
    validate_date_of_birth,
    validate_mailable_email,
    validate_plain_text,
)

EMAIL_MAX_LENGTH = 254


def _limit_email_length(form: forms.Form) -> None:
    # allauth's e-mail field has no length limit of its own; an overlong address would be cut
    # short when saved instead of being refused.
    field = form.fields["email"]
    assert isinstance(field, forms.CharField)  # noqa: S101 (allauth's EmailField)
    field.max_length = EMAIL_MAX_LENGTH
    field.validators.append(MaxLengthValidator(EMAIL_MAX_LENGTH))
    # Else the confirmation e-mail fails to send, after the address was saved.
    field.validators.append(validate_mailable_email)
    field.widget.attrs["maxlength"] = str(EMAIL_MAX_LENGTH)


class AddEmailForm(AllauthAddEmailForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit_email_length(self)


class ChangeEmailForm(AllauthChangeEmailForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit_email_length(self)


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form plus the confirmation that the person is an adult."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit_email_length(self)
        self.order_fields(["email", "password1", "password2", "confirm_adult", "marketing_email"])

    confirm_adult = forms.BooleanField(
        label=_("I confirm that I am 18 years old or older."),
        required=True,
        error_messages={
            "required": _(
                "Please tick this box to confirm that you are 18 or older: Inper's shop and this "
                "portal are only for adults. If you are younger, a parent or guardian who shops "
                "with us is welcome to sign up."
            )
        },
    )
    marketing_email = forms.BooleanField(
        label=_("Send me news and offers from Inper by e-mail. I can unsubscribe at any time."),
        help_text=_(
            "Optional. We will ask you to confirm it in a second e-mail, besides the one that "
            "confirms your address."
        ),
        required=False,
    )

    def try_save(self, request: HttpRequest) -> tuple[Any, Any]:
        """Save the account, or tell the owner of a known address that someone tried; both
        hash the password, so that the answer takes as long either way (allauth skips the
        hashing, the slowest part, for a known address, and the time told which it was)."""
        if self.account_already_exists:
            make_password(self.cleaned_data.get("password1"))
        saved: tuple[Any, Any] = super().try_save(request)
        return saved

    def custom_signup(self, request: HttpRequest, user: Any) -> None:
        """Ask the new customer to confirm e-mail marketing if they ticked the box."""
        super().custom_signup(request, user)
        if self.cleaned_data.get("marketing_email"):
            from consent.services import consent_signup_opt_in

            consent_signup_opt_in(user=user)


class ProfileChecks(forms.ModelForm[User]):
    """The checks of a profile's fields, the same for the customer's own form and for the
    staff's admin page (a rectification): plain names, a plausible date of birth, a phone
    number stored in international format."""

    def clean_first_name(self) -> str:
        value: str = self.cleaned_data["first_name"].strip()
        validate_plain_text(value)
        return value

    def clean_last_name(self) -> str:
        value: str = self.cleaned_data["last_name"].strip()
        validate_plain_text(value)
        return value

    def clean_date_of_birth(self) -> Any:
        value = self.cleaned_data.get("date_of_birth")
        if value:
            validate_date_of_birth(value, today=timezone.localdate())
        return value

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        phone = cleaned.get("phone")
        # A number kept from before (an import, an older rule) is left as it is: it must not
        # stop the person from changing their name.
        if phone and phone != self.instance.phone:
            try:
                cleaned["phone"] = normalise_phone(phone, region=str(cleaned.get("country") or ""))
            except forms.ValidationError as error:
                self.add_error("phone", error)
        return cleaned


class ProfileForm(ProfileChecks):
    """The customer's own profile. The e-mail address is changed through allauth, which
    verifies the new address first."""

    class Meta:
        model = User
        fields = PROFILE_FIELDS
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "first_name": forms.TextInput(attrs={"autocomplete": "given-name"}),
            "last_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
        }
        help_texts = {
            "phone": _("With the country code, for example +49 30 1234567."),
            "date_of_birth": _("Optional."),
            "preferred_language": _("Used for this portal and for the e-mails we send you."),
        }


class AddressForm(forms.ModelForm[Address]):
    """One address of the address book."""

    class Meta:
        model = Address
        fields = ADDRESS_FIELDS
        widgets = {
            "recipient": forms.TextInput(attrs={"autocomplete": "name"}),
            "line1": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "region": forms.TextInput(attrs={"autocomplete": "address-level1"}),
        }

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        for name in ("label", "recipient", "line1", "line2", "postal_code", "city", "region"):
            value = cleaned.get(name)
            if isinstance(value, str):
                value = value.strip()
                cleaned[name] = value
                try:
                    validate_plain_text(value)
                except forms.ValidationError as error:
                    self.add_error(name, error)
        code, country = cleaned.get("postal_code"), str(cleaned.get("country") or "")
        if code and "postal_code" not in self.errors:
            try:
                cleaned["postal_code"] = normalise_postal_code(code, country)
            except forms.ValidationError as error:
                self.add_error("postal_code", error)
        return cleaned


class CloseAccountForm(forms.Form):
    """The customer's confirmation that they want to close their account."""

    understood = forms.BooleanField(
        label=_("I understand that closing my account cannot be undone."),
        required=True,
        error_messages={"required": _("Please tick the box to confirm.")},
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES, label=_("Language"))
    next = forms.CharField(required=False, max_length=2000)
