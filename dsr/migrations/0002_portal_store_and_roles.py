"""The portal's own tables as the first registered store; erasure records append-only;
request permissions for the staff roles."""

from django.db import migrations

from accounts.roles import sync_roles
from privacy_portal.dbutils import append_only


def register_portal_store(apps, schema_editor):
    DataStore = apps.get_model("dsr", "DataStore")
    DataStore.objects.get_or_create(
        key="portal",
        defaults={
            "name": "Inper Privacy Portal",
            "owner": "Privacy team",
            "description": "Customer accounts, addresses, marketing and cookie choices, and "
            "privacy requests, kept by this portal.",
            "categories": ["account", "contact", "marketing", "cookies", "device"],
            "purposes": "Running customer accounts; recording and honouring privacy choices; "
            "answering privacy requests.",
            "legal_basis": "Contract (account); legal obligation (privacy choices and requests)",
            "recipients": "None outside Inper",
            "source": "You, when you use the portal or the shop",
            "country": "DE",
            "retention_rule": "Account data until you close the account; consent records and "
            "request records 24 months after they end, as proof.",
            "legal_hold_rule": "Records of consent and of requests are kept as proof "
            "(pseudonymised) after an erasure.",
            "identities": ["email", "customer_id"],
            "connector": "dsr.connectors.portal.PortalConnector",
            "position": 0,
        },
    )


def roles(apps, schema_editor):
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("dsr", "0001_initial"), ("accounts", "0002_staff_roles")]

    operations = [
        append_only("dsr_erasurerecord"),
        migrations.RunPython(register_portal_store, migrations.RunPython.noop),
        migrations.RunPython(roles, migrations.RunPython.noop),
    ]
