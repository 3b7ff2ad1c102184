from django.db import migrations

from privacy_portal.dbutils import append_only


def create_head(apps, schema_editor):
    apps.get_model("audit", "AuditChainHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        append_only("audit_auditevent"),
        migrations.RunPython(create_head, migrations.RunPython.noop),
    ]
