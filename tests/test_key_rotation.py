"""Rotating ``PORTAL_ENCRYPTION_KEYS``: nothing is left that only the old key can read."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from consent.models import ApiClient, WebhookSubscription
from dsr import packages
from dsr.models import ExportPackage
from privacy_portal import crypto
from tests.dsr.helpers import file_request, open_package, run_pending_tasks
from tests.factories import AddressFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(settings):
    old, new = crypto.Fernet.generate_key().decode(), crypto.Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEYS = [old]
    return settings, old, new


def test_a_package_built_while_the_keys_rotate_stays_readable_with_the_new_key(
    customer, keys, monkeypatch
):
    settings, old, new = keys
    AddressFactory(user=customer, line1="1 Alice Road")
    cover_letter = packages._cover_letter

    def rotate_meanwhile(*args, **kwargs):
        # The operator rotates while a worker is assembling the package.
        settings.PORTAL_ENCRYPTION_KEYS = [new, old]
        call_command("rotate_encryption_keys")
        return cover_letter(*args, **kwargs)

    monkeypatch.setattr(packages, "_cover_letter", rotate_meanwhile)
    request = run_pending_tasks(file_request(type="access", user=customer))
    assert ExportPackage.objects.get(request=request).built_at is not None

    settings.PORTAL_ENCRYPTION_KEYS = [new]  # the old key is gone
    call_command("rotate_encryption_keys", "--check")
    assert "1 Alice Road" in open_package(request).read("stores/portal/addresses.json").decode()


def test_a_webhook_secret_is_re_encrypted_with_the_new_key(keys):
    settings, old, new = keys
    client = ApiClient.objects.create(name="CRM")
    subscription = WebhookSubscription.objects.create(
        client=client,
        url="https://crm.inper.example/hooks/consent",
        secret_encrypted=crypto.encrypt(b"the-signing-secret"),
    )

    settings.PORTAL_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys")
    settings.PORTAL_ENCRYPTION_KEYS = [new]  # the old key is gone

    subscription.refresh_from_db()
    assert crypto.decrypt(bytes(subscription.secret_encrypted)) == b"the-signing-secret"


def test_every_encrypted_field_is_rotated(settings):
    from django.apps import apps
    from django.db import models

    binary = {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.BinaryField)
    }
    assert binary == set(settings.PORTAL_ENCRYPTED_FIELDS)
