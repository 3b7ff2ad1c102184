from django.db import migrations

from privacy_portal.dbutils import refuse_truncate


class Migration(migrations.Migration):
    dependencies = [("dsr", "0008_open_request_per_purposes")]

    operations = [refuse_truncate("dsr_erasurerecord")]
