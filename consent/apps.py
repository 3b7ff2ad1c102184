from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import checks, receivers  # noqa: F401  (system checks; sign-in links the banner)

        # A flushed test database (or a fresh one) gets the catalogue back.
        post_migrate.connect(_seed_if_empty, sender=self, dispatch_uid="consent_seed")


def _seed_if_empty(**kwargs: object) -> None:
    from django.apps import apps

    from .models import Purpose
    from .seed import seed_catalogue

    if not Purpose.objects.exists():
        from .catalogue import catalogue_invalidate

        seed_catalogue(apps)
        catalogue_invalidate()
