"""App configuration owned by the project package."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """The Django admin, with the portal's site (allauth sign-in, second factor required)."""

    default_site = "privacy_portal.admin_site.PortalAdminSite"
