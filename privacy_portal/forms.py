"""Form rendering shared by every form of the portal (labels, help and errors linked for
assistive technology; checkboxes before their label; a form sent back with several fields to
correct lists them first, each linked to its field), and fields several forms share."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import TemplatesSetting
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PortalFormRenderer(TemplatesSetting):
    form_template_name = "forms/div.html"
    field_template_name = "forms/field.html"


class PastDayInput(forms.DateInput):
    """The browser's date picker, in the ISO form it sends and shows (in any language), up to
    today."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].setdefault("max", timezone.localdate().isoformat())
        return context


class ReceivedOnField(forms.DateField):
    """The day something reached Inper by phone, e-mail, post or in person, when staff record
    it later: today or within the last year, never in the future."""

    widget = PastDayInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def validate(self, value: date | None) -> None:
        super().validate(value)
        if value is None:
            return
        today = timezone.localdate()
        if value > today:
            raise ValidationError(_("The day cannot be in the future."), code="future")
        if value < today - timedelta(days=366):
            raise ValidationError(_("The day must be within the last year."), code="too_old")


def start_of(day: date | None) -> datetime | None:
    """The start of ``day`` in the portal's time zone (None for today or no day: now)."""
    if day is None or day == timezone.localdate():
        return None
    return timezone.make_aware(datetime.combine(day, time.min))
