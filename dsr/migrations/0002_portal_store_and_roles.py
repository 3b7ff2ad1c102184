"""The portal's own tables as the first registered store; erasure records append-only;
request permissions for the staff roles."""

from django.db import migrations

from accounts.roles import sync_roles
from dsr.portal_store import portal_store_ensure
from privacy_portal.dbutils import append_only


def register_portal_store(apps, schema_editor):
    portal_store_ensure(apps)


def roles(apps, schema_editor):
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("dsr", "0001_initial"), ("accounts", "0002_staff_roles")]

    operations = [
        append_only("dsr_erasurerecord"),
        migrations.RunPython(register_portal_store, migrations.RunPython.noop),
        migrations.RunPython(roles, migrations.RunPython.noop),
    ]
