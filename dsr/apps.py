from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DsrConfig(AppConfig):
    name = "dsr"
    verbose_name = _("Data-subject requests")
