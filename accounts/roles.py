"""Staff roles as groups, with least-privilege permissions: the one place that says which role
may do what. ``sync_roles`` applies it (from data migrations, and after every ``migrate``)."""

from __future__ import annotations

from typing import Any

from privacy_portal.permissions import COMPLIANCE_GROUP, SUPPORT_GROUP

__all__ = ("COMPLIANCE_GROUP", "ROLE_PERMISSIONS", "SUPPORT_GROUP", "sync_roles")

# "app_label.codename". A permission of an app that is not migrated yet is skipped until it is.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # Support finds customers and records what they asked for by phone, e-mail or in person.
    SUPPORT_GROUP: (
        "accounts.view_user",
        "accounts.view_address",
        # Requests: record them and follow their status; never export contents.
        "dsr.add_datasubjectrequest",
        "dsr.view_datasubjectrequest",
        "consent.view_consentstate",
        "consent.record_on_behalf",
    ),
    # Compliance officers decide on requests and prove what was done (dashboard, audit trail).
    COMPLIANCE_GROUP: (
        "accounts.view_user",
        "accounts.view_address",
        # Rectification: correct a customer's profile and addresses as the person asked (their
        # e-mail address and whether the account is active stay for superusers).
        "accounts.change_user",
        "accounts.add_address",
        "accounts.change_address",
        "accounts.delete_address",
        "audit.view_auditevent",
        # The dashboard at /dashboard/ (support never reaches it, nor any export content).
        "dsr.use_dashboard",
        "dsr.view_datasubjectrequest",
        "dsr.change_datasubjectrequest",
        "dsr.view_requestnote",
        "dsr.add_requestnote",
        "dsr.view_retentionjobrun",
        "dsr.view_storetask",
        "dsr.change_storetask",
        # The data-store registry: read only (superusers configure stores and their secrets).
        "dsr.view_datastore",
        # Manual steps of requests (payment provider, parcel carrier, analytics): complete them.
        "dsr.view_manualstep",
        "dsr.change_manualstep",
        "dsr.view_erasurerecord",
        "dsr.view_exportpackage",
        "consent.view_consentevent",
        "consent.export_consentevent",
        "consent.view_consentstate",
        "consent.view_suppressionentry",
        "consent.view_webhookdelivery",
    ),
}


def sync_roles(apps: Any = None) -> None:
    """Create the role groups and give each exactly the permissions declared above.

    ``apps`` is a migration's app registry, or None for the live one.
    """
    from django.contrib.auth.management import create_permissions

    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    for app_config in apps.get_app_configs():
        # create_permissions skips app configs without a models module (as in migrations).
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for group_name, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            permission = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)
