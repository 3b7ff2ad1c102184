"""Form rendering shared by every form of the portal (labels, help and errors linked for
assistive technology; checkboxes before their label; a form sent back with several fields to
correct lists them first, each linked to its field)."""

from django.forms.renderers import TemplatesSetting


class PortalFormRenderer(TemplatesSetting):
    form_template_name = "forms/div.html"
    field_template_name = "forms/field.html"
