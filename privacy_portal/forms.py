"""Form rendering shared by every form of the portal (labels, help and errors linked for
assistive technology; checkboxes before their label)."""

from django.forms.renderers import TemplatesSetting


class PortalFormRenderer(TemplatesSetting):
    form_template_name = "django/forms/div.html"
    field_template_name = "forms/field.html"
