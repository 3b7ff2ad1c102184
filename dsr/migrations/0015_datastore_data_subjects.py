"""Whose data each store holds (the record of processing, GDPR Art. 30(1)(c)); the portal's
own store says it."""

from django.db import migrations, models

PORTAL = (
    "Customers with an account; people who made a privacy request or choice without one "
    "(trade-show contacts, newsletter subscribers, visitors who chose cookies); Inper's staff "
    "who use the portal."
)


def portal_says_whose(apps, schema_editor):
    apps.get_model("dsr", "DataStore").objects.filter(key="portal", data_subjects="").update(
        data_subjects=PORTAL
    )


class Migration(migrations.Migration):
    dependencies = [("dsr", "0014_staff_labels")]

    operations = [
        migrations.AddField(
            model_name="datastore",
            name="data_subjects",
            field=models.TextField(
                blank=True,
                help_text=(
                    "The kinds of people whose data it holds, for example customers, newsletter "
                    "subscribers, trade-show contacts."
                ),
                verbose_name="whose data",
            ),
        ),
        migrations.RunPython(portal_says_whose, migrations.RunPython.noop),
    ]
