"""The session cookie's description covers visitors who are not signed in (a confirmation
after a form) and gives its real lifetime. A description staff changed since is left as it is."""

from typing import Any

from django.db import migrations

SEEDED = {
    "en": {"purpose": "Keeps you signed in.", "lifetime": "session"},
    "de": {"purpose": "Hält Sie angemeldet.", "lifetime": "Sitzung"},
}
# As consent.seed describes it now (kept here as it was when this migration was written).
DESCRIBED = {
    "en": {
        "purpose": "Keeps you signed in, and shows a confirmation after you send a form.",
        "lifetime": "30 minutes; signed in, from your last visit (12 hours at most)",
    },
    "de": {
        "purpose": (
            "Hält Sie angemeldet und zeigt nach dem Absenden eines Formulars eine Bestätigung an."
        ),
        "lifetime": "30 Minuten; angemeldet ab Ihrem letzten Besuch (höchstens 12 Stunden)",
    },
}


def describe(apps: Any, schema_editor: Any) -> None:
    cookie_model = apps.get_model("consent", "Cookie")
    for cookie in cookie_model.objects.filter(name="sessionid"):
        if cookie.texts == SEEDED:
            cookie.texts = DESCRIBED
            cookie.save(update_fields=["texts"])


class Migration(migrations.Migration):
    dependencies = [("consent", "0008_staff_labels")]

    operations = [migrations.RunPython(describe, migrations.RunPython.noop)]
