"""Staff roles: the Support and Compliance officer groups (see accounts/roles.py)."""

from django.db import migrations

from accounts.roles import COMPLIANCE_GROUP, SUPPORT_GROUP, sync_roles


def create_roles(apps, schema_editor):
    sync_roles(apps)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=[SUPPORT_GROUP, COMPLIANCE_GROUP]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("audit", "0002_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
