"""The portal store's retention rule says what the portal does: records of privacy choices are
kept as proof (append-only), not deleted after 24 months. A rule an administrator rewrote is
left alone."""

from django.db import migrations

BEFORE = (
    "Account data until you close the account; consent records and "
    "request records 24 months after they end, as proof."
)
AFTER = (
    "Account data until you close the account; requests 24 months after they end; records "
    "of your privacy choices as proof of them, with your IP address shortened, no longer "
    "tied to you once your data is erased."
)


def forwards(apps, schema_editor):
    apps.get_model("dsr", "DataStore").objects.filter(key="portal", retention_rule=BEFORE).update(
        retention_rule=AFTER
    )


def backwards(apps, schema_editor):
    apps.get_model("dsr", "DataStore").objects.filter(key="portal", retention_rule=AFTER).update(
        retention_rule=BEFORE
    )


class Migration(migrations.Migration):
    dependencies = [("dsr", "0012_waiting_state_worded_for_the_person")]

    operations = [migrations.RunPython(forwards, backwards)]
