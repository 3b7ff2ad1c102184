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


def test_second_factor_secrets_are_encrypted_at_rest_and_rotated(keys):
    """The TOTP key and the recovery codes' seed are not in the database in clear, a secret
    stored before they were encrypted still works and is encrypted by the rotation, and after a
    rotation the old key is not needed to check a code."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    from accounts.demo import DEMO_TOTP_SECRET, demo_give_totp, totp_code
    from tests.factories import UserFactory

    settings, old, new = keys
    officer = UserFactory(email="officer.mfa@inper.example", is_staff=True)
    demo_give_totp(officer)
    totp = Authenticator.objects.get(user=officer, type=Authenticator.Type.TOTP)
    codes = Authenticator.objects.get(user=officer, type=Authenticator.Type.RECOVERY_CODES)
    assert DEMO_TOTP_SECRET not in str(totp.data) and totp.data["secret"].startswith("fernet:")
    assert codes.data["seed"].startswith("fernet:")
    assert TOTP(totp).validate_code(totp_code())

    # One stored before secrets were encrypted.
    legacy = UserFactory(email="legacy.mfa@inper.example", is_staff=True)
    demo_give_totp(legacy)
    plain = Authenticator.objects.get(user=legacy, type=Authenticator.Type.TOTP)
    plain.data = {"secret": DEMO_TOTP_SECRET}
    plain.save()

    settings.PORTAL_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys")
    settings.PORTAL_ENCRYPTION_KEYS = [new]  # the old key is gone
    call_command("rotate_encryption_keys", "--check")
    for authenticator in (totp, plain):
        authenticator.refresh_from_db()
        assert authenticator.data["secret"].startswith("fernet:")
        assert crypto.decrypt_text(authenticator.data["secret"]) == DEMO_TOTP_SECRET
