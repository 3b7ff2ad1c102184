from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DsrConfig(AppConfig):
    name = "dsr"
    verbose_name = _("Data-subject requests")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401  (system checks)

        # The portal's own store must always be registered (also after test database flushes).
        post_migrate.connect(_ensure_portal_store, sender=self, dispatch_uid="portal_store")


def _ensure_portal_store(**kwargs: object) -> None:
    from .portal_store import portal_store_ensure

    portal_store_ensure()
