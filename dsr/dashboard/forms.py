"""The dashboard's forms: queue filters, decisions, notes, manual steps, audit filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from accounts.validators import validate_plain_lines

from ..forms import ManualStepForm, RejectForm
from ..models import Channel, IdentityMethod, Regime
from .labels import STATE_LABELS, TYPE_LABELS

__all__ = (
    "AuditFilterForm",
    "ExtendForm",
    "LiftRestrictionForm",
    "ManualStepForm",
    "NoteForm",
    "QueueFilterForm",
    "RejectForm",
    "SearchForm",
    "VerifyForm",
    "YearForm",
)


#: Which requests the queue shows: the open ones (default), all, or one state.
STATUS_OPEN = "open"
STATUS_ALL = "all"

SORTS = {
    "due": ("due_at", "pk"),
    "-due": ("-due_at", "-pk"),
    "received": ("received_at", "pk"),
    "-received": ("-received_at", "-pk"),
    "reference": ("reference",),
    "-reference": ("-reference",),
}


def _any(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


class QueueFilterForm(forms.Form):
    """The queue's filters, read from the query string (they hold no personal data: a person is
    searched by the keyed hash of their address, see :class:`SearchForm`)."""

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            (STATUS_OPEN, _("Open")),
            (STATUS_ALL, _("All")),
            *STATE_LABELS.items(),
        ],
    )
    type = forms.ChoiceField(
        label=_("Type"), required=False, choices=_any(_("Any type")) + list(TYPE_LABELS.items())
    )
    regime = forms.ChoiceField(
        label=_("Law"), required=False, choices=_any(_("Any law")) + Regime.choices
    )
    channel = forms.ChoiceField(
        label=_("Received through"),
        required=False,
        choices=_any(_("Any channel")) + Channel.choices,
    )
    due = forms.ChoiceField(
        label=_("Due"),
        required=False,
        choices=[
            ("", _("Any time")),
            ("overdue", _("Overdue")),
            ("7d", _("Within 7 days")),
            ("30d", _("Within 30 days")),
        ],
    )
    assignee = forms.ChoiceField(label=_("Handled by"), required=False)
    failed = forms.BooleanField(label=_("Only with failed store tasks"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("due", _("Due date, soonest first")),
            ("-due", _("Due date, latest first")),
            ("-received", _("Received, newest first")),
            ("received", _("Received, oldest first")),
            ("reference", _("Reference")),
            ("-reference", _("Reference, descending")),
        ],
    )
    q = forms.CharField(label=_("Reference"), required=False, max_length=24)
    person = forms.RegexField(regex=r"^[0-9a-f]{64}$", required=False, widget=forms.HiddenInput)
    # A name searched for, by the key the session keeps it under (no name in a URL).
    named = forms.RegexField(regex=r"^[\w-]{1,16}$", required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, officers: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        field: Any = self.fields["assignee"]
        field.choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Nobody yet")),
            *[(str(pk), name) for pk, name in officers],
        ]

    def filters(self) -> dict[str, Any]:
        """Return the valid filters (an invalid value counts as "not filtered")."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data.get(name) for name in self.fields if name not in self.errors}


class SearchForm(forms.Form):
    """Find requests by reference or by the person's e-mail address. It is posted, so that the
    address never appears in a URL (and so in no log)."""

    term = forms.CharField(
        label=_("Find a request"),
        max_length=254,
        help_text=_(
            "A reference (DSR-2026-000042), the person's exact e-mail address, or their name."
        ),
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


def written(
    label: StrOrPromise,
    help_text: StrOrPromise,
    *,
    missing: StrOrPromise,
    max_length: int = 2000,
    rows: int = 3,
) -> forms.CharField:
    """A text an officer writes (a reason, a note): plain lines, in a text area; ``missing``
    says what to write when it is left empty."""
    return forms.CharField(
        label=label,
        max_length=max_length,
        validators=[validate_plain_lines],
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
        error_messages={"required": missing},
    )


class VerifyForm(forms.Form):
    method = forms.ChoiceField(
        label=_("How did you check the person's identity?"),
        # Nothing chosen in advance: a check recorded must be the one made.
        choices=[
            ("", _("Choose how")),
            *[
                (value, label)
                for value, label in IdentityMethod.choices
                if value.startswith("staff_")
            ],
        ],
        error_messages={"required": _("Choose how you checked the person's identity.")},
    )
    note = written(
        _("What exactly did you check?"),
        _("Kept with the request as proof. Describe the check, not the document's number."),
        missing=_("Say in a few words what you checked, as proof of the check."),
        max_length=500,
    )


class ExtendForm(forms.Form):
    reason = written(
        _("Why do you need more time?"),
        _("The person receives this text by e-mail. The deadline can be extended once."),
        missing=_("Write why you need more time: the person receives it by e-mail."),
    )


class LiftRestrictionForm(forms.Form):
    reason = written(
        _("Why is the restriction lifted?"),
        _(
            "The person receives this text by e-mail before any store lifts the restriction "
            "(GDPR Art. 18(3))."
        ),
        missing=_("Write why the restriction is lifted: the person receives it by e-mail."),
    )


class CancelForm(forms.Form):
    how = written(
        _("How did the person ask to cancel it?"),
        _(
            "For example: by phone on 5 December, identity checked by the order number. Kept "
            "as an internal note; the person is told by e-mail that the request was cancelled."
        ),
        missing=_("Say how the person asked to cancel it: it is kept as a note."),
        rows=2,
    )


class NoteForm(forms.Form):
    body = written(
        _("Internal note"),
        _("Seen only by compliance staff; never sent to the person."),
        missing=_("Write the note first."),
        max_length=4000,
    )


class AuditFilterForm(forms.Form):
    """Filters of the audit trail page and its export (ids and codes only)."""

    action = forms.CharField(
        label=_("Action"),
        required=False,
        max_length=64,
        help_text=_("The start of an action code, for example dsr.request or consent."),
    )
    reference = forms.CharField(label=_("Request reference"), required=False, max_length=24)
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=64)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    actor_type = forms.ChoiceField(
        label=_("Actor"),
        required=False,
        choices=[
            ("", _("Anyone")),
            ("person", _("A person")),
            ("system", _("The system")),
            ("api", _("An API client")),
        ],
    )
    actor_id = forms.IntegerField(label=_("Actor id"), required=False, min_value=1)
    # The trail's days are UTC days (an audit's own clock), whatever zone the times beside
    # them are shown in: said in the label.
    since = forms.DateField(
        label=_("From (day in UTC)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        label=_("To (day in UTC)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            # Said at the field: "No events match" would read as an empty trail.
            self.add_error("until", _("The end is before the start."))
        return cleaned

    def filters(self) -> dict[str, Any]:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            name: value
            for name, value in data.items()
            if name not in self.errors and value not in (None, "")
        }


class YearForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2200)
    # A regulator asks about the requests under its own law (a Californian one, the CCPA's).
    law = forms.ChoiceField(
        label=_("Law"), required=False, choices=[("", _("All laws")), *Regime.choices]
    )

    @classmethod
    def year_from(cls, data: Any) -> int:
        form = cls(data)
        if form.is_valid():
            year: int = form.cleaned_data["year"]
            return year
        return timezone.localdate().year

    @classmethod
    def law_from(cls, data: Any) -> str:
        """The law asked for ("" for all, or for one the form does not know)."""
        field = cls.base_fields["law"]
        law = str((data or {}).get("law", ""))
        return law if law in dict(field.choices) else ""  # type: ignore[attr-defined]
