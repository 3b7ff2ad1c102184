from django.db import migrations

from privacy_portal.dbutils import refuse_truncate


class Migration(migrations.Migration):
    dependencies = [("consent", "0004_exported_fields_named")]

    operations = [
        refuse_truncate("consent_consentevent", "consent_purposeversion", "consent_policyversion")
    ]
