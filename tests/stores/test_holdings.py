"""The stores section of "what Inper holds about me": searched in the background, cached
without personal data in its keys, shown without a reload."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.core.cache import cache

from dsr import holdings
from dsr.demo import shop
from privacy_portal.permissions import COMPLIANCE_GROUP
from tests.conftest import login
from tests.dsr.helpers import add_store
from tests.factories import UserFactory
from tests.stores.conftest import url_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def stores(tmp_path, customer):
    url = shop.sa.URL.create("sqlite", database=str(tmp_path / "shop.sqlite3"))
    person = shop.ShopPerson(email=customer.email, first_name="Alice", last_name="Customer")
    shop.fill(url, [person], others_count=3)
    add_store(
        "shop",
        "dsr.connectors.sql.SQLConnector",
        name="Inper shop",
        categories=["orders"],
        config=shop.store_config(url_text(url)),
    )
    steps = {
        "export": "Export the profile in the PSP dashboard.",
        "erase": "Delete the profile in the PSP dashboard.",
        "notify": "E-mail the carrier's privacy desk.",
    }
    for key, actions, recipient in (
        ("payment-provider", ["export", "erase"], False),
        ("analytics", ["erase"], False),
        ("carrier", ["notify"], True),
    ):
        add_store(
            key,
            "dsr.connectors.manual.ManualConnector",
            name=key.title(),
            is_recipient=recipient,
            config={
                "actions": actions,
                "assigned_group": COMPLIANCE_GROUP,
                "instructions": {action: steps[action] for action in actions},
            },
        )
    add_store(
        "down",
        "dsr.connectors.sql.SQLConnector",
        name="Old CRM",
        config=shop.store_config("postgresql://dsr@127.0.0.1:1/crm"),
    )


def test_the_page_says_it_is_checking_and_asks_a_worker_with_the_account_id_only(
    customer_client, customer, stores, django_capture_on_commit_callbacks
):
    with (
        mock.patch("dsr.tasks.holdings_compute_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        page = customer_client.get("/account/data/").content.decode()
        customer_client.get("/account/data/")  # a second visit does not ask again
    assert "Checking Inper" in page and 'data-holdings-state="checking"' in page
    delay.assert_called_once_with(customer.pk)


def test_the_result_lists_each_store_with_how_much_it_holds(customer_client, customer, stores):
    holdings.holdings_compute(customer.pk)

    status = customer_client.get("/account/data/stores/").json()
    assert status["state"] == "ready"
    html = status["html"]
    assert "Inper shop" in html and "orders: <strong>3</strong>" in html
    assert "browsing events: <strong>40</strong>" in html
    assert "Checked by our staff when you ask for a copy" in html  # the payment provider
    assert "they are told when you ask us to correct" in html  # the carrier, a recipient
    assert "Cannot be searched from here" in html  # analytics
    assert "Could not be checked just now" in html  # the store that is down
    assert "Inper Privacy Portal" in html and "account: <strong>1</strong>" in html
    page = customer_client.get("/account/data/").content.decode()
    assert 'data-holdings-state="ready"' in page and "Inper shop" in page


def test_a_recipient_is_not_said_to_have_data_of_a_new_account(client, stores):
    """The carrier receives addresses when an order ships: of an account without orders, the
    page does not claim anything was shared, since it looks nothing up there."""
    newcomer = UserFactory()
    holdings.holdings_compute(newcomer.pk)

    html = login(client, newcomer).get("/account/data/stores/").json()["html"]

    (carrier,) = re.findall(r'<tr data-store="carrier".*?</tr>', html, re.S)
    assert "We may have shared data of these kinds with them; if so, they are told" in carrier
    assert "We shared" not in html


def test_the_cache_holds_counts_under_a_key_without_personal_data(customer, stores, redis_cache):
    holdings.holdings_compute(customer.pk)
    client = cache._cache.get_client()  # type: ignore[attr-defined]
    keys = [key.decode() for key in client.keys("*")]
    assert any(key.endswith(f"dsr:holdings:v1:{customer.pk}") for key in keys)
    assert not any(customer.email in key or "@" in key for key in keys)
    cached = cache.get(f"dsr:holdings:v1:{customer.pk}")
    assert customer.email not in repr(cached) and "Alice" not in repr(cached)


def test_check_again_forgets_the_result_and_asks_again(
    customer_client, customer, stores, django_capture_on_commit_callbacks
):
    holdings.holdings_compute(customer.pk)
    assert customer_client.get("/account/data/stores/refresh/").status_code == 405
    with (
        mock.patch("dsr.tasks.holdings_compute_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = customer_client.post("/account/data/stores/refresh/")
    assert response.status_code == 302 and response["Location"] == "/account/data/#stores"
    delay.assert_called_once_with(customer.pk)
    assert customer_client.get("/account/data/stores/").json()["state"] == "checking"


def test_only_the_signed_in_person_is_searched(client):
    assert client.get("/account/data/stores/").status_code == 302
    assert client.post("/account/data/stores/refresh/").status_code == 302


def test_a_german_customer_reads_what_was_found_in_german(customer_client, customer, stores):
    customer_client.post("/language/", {"language": "de", "next": "/account/"})
    holdings.holdings_compute(customer.pk)

    html = customer_client.get("/account/data/stores/").json()["html"]
    assert "Bestellungen: <strong>3</strong>" in html
    assert "Seitenaufrufe: <strong>40</strong>" in html
    assert "Konto: <strong>1</strong>" in html  # the portal's own records
    assert "orders:" not in html and "browsing events:" not in html and "account:" not in html


def test_the_portals_own_counts_are_current_while_the_rest_is_as_last_checked(
    customer_client, customer, stores
):
    """Choices and requests made a minute ago count at once in the portal's own row; the
    other systems keep the counts of the last check (until "Check again")."""
    from tests.consent.conftest import record
    from tests.dsr.helpers import file_request

    holdings.holdings_compute(customer.pk)
    before = customer_client.get("/account/data/stores/").json()["html"]
    assert "privacy requests: " not in before
    assert "privacy choices you made (history): " not in before

    record(customer, "marketing_sms", True, source="preference_centre")
    file_request(type="access", user=customer)
    after = customer_client.get("/account/data/stores/").json()["html"]
    assert "privacy requests: <strong>1</strong>" in after
    assert "privacy choices you made (history): <strong>1</strong>" in after
    assert "orders: <strong>3</strong>" in after  # the shop, as checked before
