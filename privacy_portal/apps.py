"""App configuration owned by the project package."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """The Django admin, with the portal's site (allauth sign-in, second factor required).

    The project package has no app of its own: this one also registers the system checks of
    the portal's own settings (``privacy_portal.checks``) and SQLite's functions for names
    (``privacy_portal.sqlite``).
    """

    default_site = "privacy_portal.admin_site.PortalAdminSite"

    def ready(self) -> None:
        super().ready()
        # The system checks, and SQLite's functions for names.
        from . import checks, sqlite  # noqa: F401
