"""Reflow (WCAG 2.2, 1.4.10): on a 320 px wide screen no page scrolls sideways, also with
German's long words, wide tables and a long URL in a policy text. Wide tables scroll inside
their own region instead."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone

from consent.models import PolicyDocument
from consent.services import policy_publish
from dsr.models import DataStore
from tests.consent.conftest import record
from tests.dsr.helpers import add_store, file_request
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, AddressFactory, StaffFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTH = 320
LONG_URL = "www.google.com/policies/privacy/partners/and/a/much/longer/path/than/fits"


def sideways(page, path):
    response = page.goto(path)
    assert response is not None and response.status < 400, path
    return page.evaluate("document.documentElement.scrollWidth")


def test_no_page_scrolls_sideways_on_a_narrow_phone(page):
    if not DataStore.objects.filter(key="portal").exists():
        add_store("portal", "dsr.connectors.portal.PortalConnector", name="Inper Privacy Portal")
    policy_publish(
        document=PolicyDocument.PRIVACY_STATEMENT,
        body=f"## Analytics\n\nGoogle describes more privacy options at {LONG_URL}.",
        material=False,
        summary={"en": "First version."},
        actor=StaffFactory(is_superuser=True),
    )
    customer = UserFactory(email="reflow@example.com", preferred_language="de")
    AddressFactory(user=customer)
    record(customer, "surveys", True)
    record(customer, "surveys", False)
    file_request(type="access", user=customer)

    page.set_viewport_size({"width": WIDTH, "height": 740})
    wide = {}
    for path in ["/privacy/statement/", "/requests/new/"]:
        wide[path] = sideways(page, path)
    sign_in(page, customer.email, PASSWORD)
    for path in [
        "/account/",
        "/account/data/",
        "/privacy/history/",
        "/requests/",
        "/requests/new/",
        "/accounts/2fa/",
    ]:
        wide[f"{path} (de)"] = sideways(page, path)
    assert {path: width for path, width in wide.items() if width > WIDTH} == {}


def test_an_officers_pages_do_not_scroll_sideways_on_a_phone(page):
    """The request page holds wide things (the stores' table, receipts, the timeline): they
    scroll in their boxes on a phone, and the page itself does not."""
    from privacy_portal.permissions import COMPLIANCE_GROUP
    from tests.dsr.helpers import run_pending_tasks
    from tests.e2e.test_dashboard_journeys import officer_signs_in

    if not DataStore.objects.filter(key="portal").exists():
        add_store("portal", "dsr.connectors.portal.PortalConnector", name="Inper Privacy Portal")
    customer = UserFactory(email="reflow.officer@example.com")
    AddressFactory(user=customer)
    done = run_pending_tasks(file_request(type="access", user=customer))
    waiting = file_request(type="erasure", user=UserFactory(email="second@example.com"))
    officer = StaffFactory(group=COMPLIANCE_GROUP)

    page.set_viewport_size({"width": WIDTH, "height": 800})
    officer_signs_in(page, officer)
    wide = {
        path: sideways(page, path)
        for path in (
            "/dashboard/",
            f"/dashboard/requests/{done.reference}/",
            f"/dashboard/requests/{waiting.reference}/",
            "/dashboard/metrics/",
            "/dashboard/audit/",
            "/dashboard/retention/",
        )
    }
    assert {path: width for path, width in wide.items() if width > WIDTH} == {}
    # The queue is one card per request: its state and deadline in sight, nothing to scroll.
    page.goto("/dashboard/")
    scrolls = page.evaluate(
        "Array.from(document.querySelectorAll('.table-scroll'))"
        ".filter(box => box.scrollWidth > box.clientWidth).length"
    )
    assert scrolls == 0
    # An erasure's plan reads whole, a block per kind of record, without scrolling.
    page.goto(f"/dashboard/requests/{waiting.reference}/")
    plans = page.locator(".dash-plan")
    assert plans.count() >= 1
    squeezed = page.evaluate(
        "Array.from(document.querySelectorAll('.dash-plan'))"
        ".filter(t => t.parentElement.scrollWidth > t.parentElement.clientWidth).length"
    )
    assert squeezed == 0
    page.goto("/dashboard/")
    due = page.locator("td[data-label='Due']").first
    assert due.evaluate("cell => getComputedStyle(cell, '::before').content") == '"Due"'
    assert due.is_visible()
    # In German, a job's last dry run and what it would change ("würde 12.345 Datensätze
    # ändern") wrap within the job's box.
    from dsr.models import RetentionJobRun
    from dsr.retention import JOBS

    for job in JOBS:
        RetentionJobRun.objects.create(
            job=job, dry_run=True, started_at=timezone.now(), ok=True, count=12345
        )
    officer.preferred_language = "de"
    officer.save(update_fields=["preferred_language"])
    assert sideways(page, "/dashboard/retention/") <= WIDTH


def test_a_stores_instructions_and_form_fit_the_width_of_a_phone(page):
    """The stores' table scrolls sideways; what staff read and fill in below a store stays
    within the visible width of its box."""
    from privacy_portal.permissions import COMPLIANCE_GROUP
    from tests.e2e.test_dashboard_journeys import officer_signs_in

    add_store(
        "payments",
        "dsr.connectors.manual.ManualConnector",
        name="Payment provider",
        config={
            "actions": ["export"],
            "assigned_group": COMPLIANCE_GROUP,
            "instructions": {"export": "Search the customer by e-mail and export " * 8},
        },
    )
    waiting = file_request(type="access", user=UserFactory(email="narrow@example.com"))
    from tests.dsr.helpers import run_pending_tasks

    run_pending_tasks(waiting)
    page.set_viewport_size({"width": WIDTH, "height": 800})
    officer_signs_in(page, StaffFactory(group=COMPLIANCE_GROUP))
    page.goto(f"/dashboard/requests/{waiting.reference}/")
    page.get_by_text("Mark this step done").click()
    box = page.locator("#tasks .table-scroll").bounding_box()
    for part in ("#tasks .dash-subrow-body p", "#tasks .dash-subrow-body form textarea"):
        inside = page.locator(part).first.bounding_box()
        assert (
            inside["x"] >= box["x"] and inside["x"] + inside["width"] <= box["x"] + box["width"]
        ), part
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_on_a_phone_the_header_reads_in_the_order_the_keyboard_reaches_it(page):
    customer = UserFactory(email="header.order@example.com")
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, customer.email, PASSWORD)
    page.goto("/account/")
    links = page.locator(".site-nav a").last.bounding_box()
    menu = page.locator(".account-menu summary").bounding_box()
    # The menu comes after the links in the page, so it is shown below them, not above.
    assert menu["y"] >= links["y"] + links["height"]


def test_a_customers_tables_become_one_card_per_row_on_a_phone(page):
    """Nothing to scroll sideways in: each request and each choice is a card, every value under
    its column's name."""
    customer = UserFactory(email="cards@example.com")
    record(customer, "surveys", True)
    request = file_request(type="access", user=customer)

    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, customer.email, PASSWORD)
    for path, first_label, first_value in [
        ("/requests/", "Reference", request.reference),
        ("/privacy/history/", "When", None),
    ]:
        page.goto(path)
        scrolls = page.evaluate(
            "Array.from(document.querySelectorAll('.table-scroll'))"
            ".filter(box => box.scrollWidth > box.clientWidth).length"
        )
        assert scrolls == 0, path
        cell = page.locator("tbody tr td").first
        label = cell.evaluate("cell => getComputedStyle(cell, '::before').content")
        assert label == f'"{first_label}"', path
        if first_value:
            assert first_value in cell.inner_text()
        row = page.locator("tbody tr").first.bounding_box()
        table = page.locator("table").first.bounding_box()
        assert row is not None and table is not None
        assert row["width"] >= table["width"] - 1, path  # the card spans the column


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_cookie_banner_leaves_most_of_a_phones_first_screen_to_the_page(page, language):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": page.url}]
    )
    page.reload()
    banner = page.locator(".inper-cb")
    banner.wait_for()
    box = banner.bounding_box()
    assert box is not None and box["height"] < 844 / 2
    heading = page.locator("main h1").bounding_box()
    assert heading is not None and heading["y"] + heading["height"] < 844


def test_an_officers_request_page_fits_a_desktop_screen(page):
    """At 1280 px the stores' nine columns fit beside the side column (a step retried by staff
    says so under its attempts), and a later unconfirmed request's warning wraps in its box."""
    from django.core.cache import cache

    from dsr.models import StoreTask
    from dsr.services import dsr_task_retry
    from privacy_portal.permissions import COMPLIANCE_GROUP
    from tests.dsr.helpers import run_pending_tasks
    from tests.e2e.test_dashboard_journeys import officer_signs_in

    if not DataStore.objects.filter(key="portal").exists():
        add_store("portal", "dsr.connectors.portal.PortalConnector", name="Inper Privacy Portal")
    add_store(
        "flaky",
        "tests.dsr.connectors.FlakyConnector",
        name="Newsletter platform",
        config={"fail_times": 1},
    )
    customer = UserFactory(email="desktop.officer@example.com")
    officer = StaffFactory(group=COMPLIANCE_GROUP)
    request = file_request(type="access", user=customer)
    StoreTask.objects.filter(request=request, store__key="flaky").update(max_attempts=1)
    run_pending_tasks(request)
    cache.set("flaky-calls-flaky", 100, 3600)  # the store is back
    dsr_task_retry(task=request.tasks.get(store__key="flaky"), actor=officer)
    run_pending_tasks(request)
    erasure = file_request(type="erasure", user=customer)
    file_request(type="erasure", email=customer.email, channel="portal_guest")

    page.set_viewport_size({"width": 1280, "height": 800})
    officer_signs_in(page, officer)
    page.goto(f"/dashboard/requests/{request.reference}/")
    assert page.get_by_text("before a retry by staff").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    box = page.locator("#tasks .table-scroll")
    assert box.evaluate("box => box.scrollWidth <= box.clientWidth")
    page.goto(f"/dashboard/requests/{erasure.reference}/")
    assert page.get_by_text("not confirmed to come from the person").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
