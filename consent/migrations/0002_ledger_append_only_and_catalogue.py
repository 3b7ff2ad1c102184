"""The database refuses UPDATE and DELETE on the ledger and on the texts it points to; the
catalogue is seeded with Inper's purposes; the staff roles get the consent permissions."""

from django.db import migrations

from accounts.roles import sync_roles
from consent.seed import seed_catalogue
from privacy_portal.dbutils import append_only


def seed(apps, schema_editor):
    seed_catalogue(apps)


def roles(apps, schema_editor):
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0001_initial"),
        ("accounts", "0002_staff_roles"),
    ]

    operations = [
        append_only("consent_consentevent"),
        append_only("consent_purposeversion"),
        append_only("consent_policyversion"),
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(roles, migrations.RunPython.noop),
    ]
