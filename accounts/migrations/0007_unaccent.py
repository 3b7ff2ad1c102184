"""The unaccent extension, for support's search of names without their accents (PostgreSQL
only; a trusted extension, so the database's owner may create it)."""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_staff_labels")]

    operations = [UnaccentExtension()]
