"""App configuration owned by the project package."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """The Django admin, with the portal's site (allauth sign-in, second factor required).

    The project package has no app of its own: this one also registers the system checks of
    the portal's own settings (``privacy_portal.checks``).
    """

    default_site = "privacy_portal.admin_site.PortalAdminSite"

    def ready(self) -> None:
        super().ready()
        from . import checks  # noqa: F401  (system checks)
