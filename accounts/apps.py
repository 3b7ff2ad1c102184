from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Customers and staff")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import receivers  # noqa: F401  (allauth's signals -> audit trail)

        # Keep the role groups current after every migrate (and after test database flushes).
        post_migrate.connect(_sync_roles_after_migrate, sender=self, dispatch_uid="sync_roles")


def _sync_roles_after_migrate(**kwargs: object) -> None:
    from .roles import sync_roles

    sync_roles()
