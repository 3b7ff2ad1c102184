"""The data-store registry in the staff admin: configured by superusers, read by compliance
officers, secrets encrypted and never shown back, connections tested."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from dsr.demo import shop
from dsr.models import DataStore
from privacy_portal import crypto
from privacy_portal.audit.models import AuditEvent
from tests.conftest import login
from tests.dsr.helpers import add_store
from tests.factories import StaffFactory
from tests.stores.conftest import ANNA

pytestmark = pytest.mark.django_db

SQL = "dsr.connectors.sql.SQLConnector"
PASSWORD = "pw-Xq7-never-shown"


def form_data(**changes):
    data = {
        "key": "shop",
        "name": "Inper shop",
        "owner": "E-commerce team",
        "description": "Orders and customers of the online shop.",
        "categories": ["orders", "contact"],
        "purposes": "Selling and delivering products.",
        "legal_basis": "Contract; legal obligation (financial records)",
        "recipients": "Parcel carrier",
        "source": "You, when you order",
        "country": "DE",
        "transfer_safeguard": "",
        "retention_rule": "Orders: 10 years (financial records)",
        "legal_hold_rule": "",
        "identities": ["email", "order_number"],
        "connector": SQL,
        "config": json.dumps(shop.store_config("postgresql://dsr@shop-db.internal:5432/shop")),
        "enabled": "on",
        "position": "10",
    }
    data.update(changes)
    return data


def test_a_superuser_registers_a_store_whose_password_is_encrypted_and_never_shown(
    superuser_client,
):
    response = superuser_client.post(
        "/admin/dsr/datastore/add/", form_data(secret_password=PASSWORD)
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    store = DataStore.objects.get(key="shop")
    assert store.secrets == {"password": PASSWORD}
    assert PASSWORD.encode() not in bytes(store.secrets_encrypted)
    assert PASSWORD not in json.dumps(store.config)

    page = superuser_client.get(f"/admin/dsr/datastore/{store.pk}/change/").content.decode()
    assert PASSWORD not in page
    assert 'name="secret_password"' in page and "Stored (not shown)" in page
    assert AuditEvent.objects.filter(action="admin.added", object_id=str(store.pk)).exists()
    assert PASSWORD not in json.dumps(list(AuditEvent.objects.values("after", "reason")))


def test_a_blank_secret_keeps_the_stored_one_a_new_one_replaces_it_and_it_can_be_removed(
    superuser_client,
):
    superuser_client.post("/admin/dsr/datastore/add/", form_data(secret_password=PASSWORD))
    store = DataStore.objects.get(key="shop")
    url = f"/admin/dsr/datastore/{store.pk}/change/"

    assert superuser_client.post(url, form_data(name="Inper web shop")).status_code == 302
    store.refresh_from_db()
    assert store.name == "Inper web shop" and store.secrets == {"password": PASSWORD}

    assert superuser_client.post(url, form_data(secret_password="a-new-one")).status_code == 302
    store.refresh_from_db()
    assert store.secrets == {"password": "a-new-one"}

    assert superuser_client.post(url, form_data(clear_secret_password="on")).status_code == 302
    store.refresh_from_db()
    assert store.secrets == {}


def test_a_secret_typed_into_the_configuration_is_refused(superuser_client):
    config = shop.store_config("postgresql://dsr@shop-db.internal:5432/shop")
    config["password"] = PASSWORD
    response = superuser_client.post(
        "/admin/dsr/datastore/add/", form_data(config=json.dumps(config))
    )
    assert response.status_code == 200
    assert "password is a secret: it was taken out" in response.content.decode()
    assert PASSWORD not in response.content.decode()
    assert not DataStore.objects.filter(key="shop").exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"url": "postgresql://dsr:pw@db/shop", "tables": {"t": {"identities": {"email": "e"}}}},
            "must not contain a password",
        ),
        (
            {
                "url": "postgresql://dsr@db/shop",
                "tables": {"t": {"erase": "shred", "identities": {"email": "e"}}},
            },
            "tables.t.erase",
        ),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_the_configuration_is_validated_with_a_clear_message(superuser_client, config, message):
    response = superuser_client.post(
        "/admin/dsr/datastore/add/", form_data(config=json.dumps(config))
    )
    assert response.status_code == 200
    assert message in response.content.decode()


def test_compliance_officers_read_the_registry_but_change_nothing(
    compliance_client, superuser_client
):
    superuser_client.post("/admin/dsr/datastore/add/", form_data(secret_password=PASSWORD))
    store = DataStore.objects.get(key="shop")

    listing = compliance_client.get("/admin/dsr/datastore/", {"q": "shop"}, follow=True)
    assert listing.status_code == 200 and "Inper shop" in listing.content.decode()
    page = compliance_client.get(f"/admin/dsr/datastore/{store.pk}/change/").content.decode()
    assert "Orders: 10 years" in page and "password (stored encrypted, never shown)" in page
    assert (
        PASSWORD not in page
        and 'name="config"' not in page
        and 'name="secret_password"' not in page
    )
    assert "Test connection" not in page

    response = compliance_client.post(
        f"/admin/dsr/datastore/{store.pk}/change/", form_data(secret_password="mine")
    )
    assert response.status_code == 403
    assert (
        compliance_client.post(f"/admin/dsr/datastore/{store.pk}/test-connection/").status_code
        == 403
    )
    assert compliance_client.get("/admin/dsr/datastore/add/").status_code == 403
    store.refresh_from_db()
    assert store.secrets == {"password": PASSWORD}


def test_support_staff_do_not_see_the_registry(support_client):
    assert support_client.get("/admin/dsr/datastore/").status_code == 403


def test_test_connection_records_the_outcome_with_a_clear_message(superuser_client, tmp_path):
    shop.fill(
        shop.sa.URL.create("sqlite", database=str(tmp_path / "shop.sqlite3")),
        [ANNA],
        others_count=0,
    )
    good = add_store(
        "shop", SQL, config=shop.store_config(f"sqlite:///{tmp_path / 'shop.sqlite3'}")
    )
    bad = add_store("down", SQL, config=shop.store_config("postgresql://dsr@127.0.0.1:1/shop"))
    response = superuser_client.post(
        "/admin/dsr/datastore/",
        {"action": "test_connection", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "connection OK" in page and "cannot be reached" in page
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.last_check_ok is True and good.last_checked_at is not None
    assert bad.last_check_ok is False and "127.0.0.1:1" in bad.last_check_detail
    assert AuditEvent.objects.filter(action="dsr.store.checked").count() == 2

    response = superuser_client.post(
        f"/admin/dsr/datastore/{good.pk}/test-connection/", follow=True
    )
    assert "connection OK" in response.content.decode()

    failing = superuser_client.get(
        "/admin/dsr/datastore/", {"connection": "failing", "connector": SQL}
    ).content.decode()
    assert f"/admin/dsr/datastore/{bad.pk}/change/" in failing
    assert f"/admin/dsr/datastore/{good.pk}/change/" not in failing


def test_rotating_the_encryption_key_re_encrypts_every_secret(settings):
    old, new = crypto.Fernet.generate_key().decode(), crypto.Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEYS = [old]
    store = add_store("shop", SQL, config={})
    store.set_secrets({"password": PASSWORD})
    store.save()
    before = bytes(store.secrets_encrypted)

    settings.PORTAL_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys")
    store.refresh_from_db()
    assert bytes(store.secrets_encrypted) != before

    settings.PORTAL_ENCRYPTION_KEYS = [new]  # the old key is gone
    assert store.secrets == {"password": PASSWORD}
    call_command("rotate_encryption_keys", "--check")
    assert AuditEvent.objects.filter(action="crypto.keys_rotated").exists()

    settings.PORTAL_ENCRYPTION_KEYS = [crypto.Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_encryption_keys", "--check")


def test_the_registry_pages_need_a_second_factor():
    staff = StaffFactory(is_superuser=True)
    client = login(Client(), staff, mfa=False)
    assert client.get("/admin/dsr/datastore/").status_code == 302


def test_a_password_in_the_urls_query_is_refused_so_officers_never_see_it(superuser_client):
    # The registry shows a store's configuration to compliance officers; libpq and the MySQL
    # drivers also take the password as a query parameter of the URL.
    config = shop.store_config(f"postgresql://dsr@shop-db.internal:5432/shop?password={PASSWORD}")
    response = superuser_client.post(
        "/admin/dsr/datastore/add/", form_data(config=json.dumps(config))
    )

    assert response.status_code == 200
    assert "must not contain a password" in response.content.decode()
    assert not DataStore.objects.filter(key="shop").exists()
