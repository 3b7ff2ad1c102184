"""The data dictionary of an access package explains every column of every demo store, in
the language of the person's request, and names the stores in that language too."""

from __future__ import annotations

import json

import pytest

from accounts.models import User
from dsr.models import DataStore, State
from tests.dsr.helpers import file_request, open_package, run_pending_tasks

EXTERNAL = ("inper-shop", "newsletter", "uploads")
SHOP_TABLES = {
    "customers",
    "orders",
    "order_lines",
    "reviews",
    "support_tickets",
    "browsing_events",
}


def _package(email: str, **extra):
    # Only the stores the worker answers for itself (staff's manual steps are not part of it).
    DataStore.objects.filter(connector="dsr.connectors.manual.ManualConnector").update(
        enabled=False
    )
    request = run_pending_tasks(
        file_request(type="access", user=User.objects.get(email=email), **extra)
    )
    assert request.state == State.COMPLETED
    archive = open_package(request)
    return json.loads(archive.read("data-dictionary.json")), archive.read("index.html").decode()


@pytest.mark.django_db(transaction=True)
def test_every_column_of_every_demo_store_is_explained(demo_world):
    dictionary, _index = _package("anna.schmidt@example.com", language="en")

    assert set(EXTERNAL) <= set(dictionary)
    assert set(dictionary["inper-shop"]["entities"]) == SHOP_TABLES
    assert set(dictionary["newsletter"]["entities"]) == {"subscriber", "campaign_events"}
    assert set(dictionary["uploads"]["entities"]) == {"files"}
    unexplained = [
        f"{store}/{entity}.{column}"
        for store, described in dictionary.items()
        for entity, table in described["entities"].items()
        for column, text in table["columns"].items()
        if not text.strip()
    ]
    assert unexplained == []
    # Her photos are listed too, each with what it is.
    photos = dictionary["uploads"]["files"]
    assert photos and all(name.startswith("files/") and text for name, text in photos.items())


@pytest.mark.django_db(transaction=True)
def test_the_dictionary_and_the_cover_letter_are_in_the_requests_language(demo_world):
    german, german_index = _package("anna.schmidt@example.com")  # her account is German
    assert german["inper-shop"]["name"] == "Inper-Shop"
    assert german["newsletter"]["name"] == "Newsletter-Plattform"
    assert german["uploads"]["name"] == "Hochgeladene Fotos und Videos"
    shop = german["inper-shop"]["entities"]
    assert shop["orders"]["columns"]["shipping_address"] == "Die Lieferadresse der Bestellung"
    assert shop["customers"]["columns"]["newsletter"] == (
        "Ob Sie im Shop den Newsletter abonniert haben"
    )
    newsletter = german["newsletter"]["entities"]
    assert newsletter["subscriber"]["columns"]["lists"] == "Die Newsletter, die Sie erhalten"
    assert german["uploads"]["entities"]["files"]["columns"]["bytes"] == "Größe der Datei in Byte"
    assert "<strong>Inper-Shop</strong>" in german_index
    assert "Newsletter-Plattform" in german_index and "Newsletter platform" not in german_index

    english, english_index = _package("ben.carter@example.com")
    assert english["inper-shop"]["name"] == "Inper shop"
    assert english["newsletter"]["name"] == "Newsletter platform"
    shop = english["inper-shop"]["entities"]
    assert shop["orders"]["columns"]["shipping_address"] == "The address the order was delivered to"
    assert english["uploads"]["entities"]["files"]["columns"]["bytes"] == (
        "Size of the file, in bytes"
    )
    assert "<strong>Inper shop</strong>" in english_index and "Inper-Shop" not in english_index


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"tables": {"customers": {"descriptions": {"email": ["not", "a", "text"]}}}},
            "tables.customers.descriptions.email must be a text, or an object of texts by language",
        ),
        (
            {"tables": {"customers": {"descriptions": {"email": {"de": "Ihre Adresse"}}}}},
            "tables.customers.descriptions.email needs an English text",
        ),
        (
            {"tables": {"customers": {"descriptions": {"email": {"en": "x", "ge": "y"}}}}},
            "unknown language ge; use en, de",
        ),
        ({"names": "Inper shop"}, "names must be an object"),
        ({"names": {"en": "Inper shop", "de": ""}}, "names.de must be a non-empty text"),
        ({"shared_from": "shop"}, "shared_from must list the keys of stores"),
        ({"shared_from": ["shop", 7]}, "shared_from must list the keys of stores"),
    ],
)
def test_configured_texts_are_checked_with_a_clear_message(change, message):
    from dsr.connectors.base import ConfigurationError
    from dsr.connectors.sql import SQLConnector
    from dsr.demo import shop

    config = shop.store_config("postgresql://dsr@shop-db.internal:5432/shop")
    config.update({key: value for key, value in change.items() if key != "tables"})
    for table, changed in change.get("tables", {}).items():
        config["tables"][table] = {**config["tables"][table], **changed}
    with pytest.raises(ConfigurationError) as raised:
        SQLConnector.validate_config(config, {})
    assert message in str(raised.value)


def test_a_services_columns_are_explained_by_the_stores_configuration():
    from dsr.connectors.http import configured_descriptions, result_from
    from dsr.demo import services
    from tests.stores.conftest import MemorySink

    sink = MemorySink()
    data = {
        "tables": [
            {
                "entity": "subscriber",
                "columns": ["email", "lists"],
                "rows": [["anna@example.com", "newsletter"]],
                "descriptions": {"lists": "from the service", "email": ""},
            }
        ]
    }
    described = configured_descriptions({"descriptions": services.DESCRIPTIONS})
    result_from("export", data, sink, described=described)
    texts = sink.tables["subscriber"].descriptions
    from django.utils import translation

    with translation.override("de"):
        assert str(texts["lists"]) == "Die Newsletter, die Sie erhalten"
    with translation.override("en"):
        assert str(texts["email"]) == "The address the newsletter is sent to"


@pytest.mark.parametrize(
    ("name", "config", "expected"),
    [
        (
            "Inper Privacy Portal",
            {},
            {"en": "Inper Privacy Portal", "de": "Inper-Datenschutzportal"},
        ),
        ("Payments", {"names": {"en": "Payments", "de": "Zahlungen"}}, {"de": "Zahlungen"}),
        ("Warehouse 7", {}, {"en": "Warehouse 7", "de": "Warehouse 7"}),
        ("", {}, {"en": "", "de": ""}),  # never gettext's catalogue header
    ],
)
def test_a_store_is_named_in_the_readers_language(name, config, expected):
    store = DataStore(key="s", name=name, config=config)
    for language, shown in expected.items():
        assert store.display_name(language) == shown
