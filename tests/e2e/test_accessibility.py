"""Every kind of page, checked with axe-core in Chromium for each role, on a desktop and a
phone-sized screen: the WCAG 2.0, 2.1 and 2.2 A and AA rules and axe's best practices
(landmarks, headings, labels, names, contrast, keyboard access to scrolling regions)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from consent.marketing import unsubscribe_url
from consent.services import subject_for_user
from dsr.models import DataStore, State
from dsr.services import dsr_request_approve
from privacy_portal.permissions import COMPLIANCE_GROUP
from tests.consent.conftest import record
from tests.dsr.helpers import add_store, file_request, run_pending_tasks
from tests.e2e.conftest import guest_code_asked, sign_in
from tests.e2e.test_dashboard_journeys import officer_signs_in
from tests.factories import PASSWORD, AddressFactory, StaffFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    }
}
SCREENS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}


@pytest.fixture(params=SCREENS, ids=str)
def screen(request, page):
    page.set_viewport_size(SCREENS[request.param])
    return request.param


@pytest.fixture
def world():
    """A customer with an address, consent choices and three requests (one completed, with a
    package; a restriction, lifted) and one made with her address without signing in, another
    person's restriction, and the portal's own store registered."""
    if not DataStore.objects.filter(key="portal").exists():
        add_store("portal", "dsr.connectors.portal.PortalConnector", name="Inper Privacy Portal")
    customer = UserFactory(email="axe.customer@example.com", first_name="Ada")
    address = AddressFactory(user=customer)
    subject = subject_for_user(customer)
    record(subject, "surveys", True)
    record(subject, "surveys", False)
    done = run_pending_tasks(file_request(type="access", user=customer))
    assert done.state == State.COMPLETED
    open_request = file_request(type="rectification", user=customer, details="My name is Ada.")
    # Made with her address by someone not signed in: its own section of her request list.
    file_request(type="access", email=customer.email, channel="portal_guest", actor=None)
    erased = dsr_request_approve(
        request=file_request(type="erasure", user=UserFactory(email="gone@example.com")),
        actor=None,
    )
    erased = run_pending_tasks(erased)
    # A restriction of hers, lifted; and another person's, which an officer may lift.
    from dsr.services import dsr_restriction_lift

    restriction = file_request(type="restriction", user=customer)
    lifted = run_pending_tasks(dsr_request_approve(request=restriction, actor=None))
    dsr_restriction_lift(request=lifted, actor=None, reason="Your complaint was settled.")
    lifted = run_pending_tasks(lifted)
    assert lifted.restriction_lifted_at is not None
    restricted = file_request(type="restriction", user=UserFactory(email="kept@example.com"))
    restricted = run_pending_tasks(dsr_request_approve(request=restricted, actor=None))
    assert restricted.state == State.COMPLETED
    unsubscribe, _token = unsubscribe_url(subject=subject, purpose_key="marketing_email")
    # An erasure waiting for an officer: its plan, store by store.
    in_review = file_request(type="erasure", user=UserFactory(email="review@example.com"))
    assert in_review.state == State.IN_REVIEW
    return {
        "in_review": in_review,
        "customer": customer,
        "address": address,
        "done": done,
        "open": open_request,
        "erased": erased,
        "lifted": lifted,
        "restricted": restricted,
        "unsubscribe": urlsplit(unsubscribe).path,
    }


def violations(page, paths):
    """Visit each path (or check the page as it is, for None) and return axe's findings."""
    axe = Axe()
    found = {}
    for path in paths:
        if path is not None:
            response = page.goto(path)
            assert response is not None and response.status < 500, path
            # What a folded part holds is checked too, as someone who opens it reads it.
            page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        result = axe.run(page, options=RULES).response
        problems = [
            (v["id"], v["impact"], [node["target"] for node in v["nodes"]][:3])
            for v in result["violations"]
        ]
        if problems:
            found[path or page.url] = problems
    return found


def test_pages_for_visitors(page, screen, world):
    paths = [
        "/",
        "/privacy/cookies/",
        "/privacy/cookie-policy/",
        "/privacy/statement/",
        "/requests/new/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        world["unsubscribe"],
        "/no-such-page/",
    ]
    found = violations(page, paths)
    # The banner's second layer, opened from its first.
    page.goto("/")
    banner = page.get_by_role("dialog", name="Cookies on Inper's websites")
    banner.get_by_role("button", name="Choose cookies").click()
    page.get_by_role("dialog", name="Choose which cookies we may use").wait_for()
    found.update(violations(page, [None]))
    assert found == {}


def test_pages_for_customers(page, screen, world):
    sign_in(page, world["customer"].email, PASSWORD)
    paths = [
        "/",
        "/account/",
        "/account/data/",
        "/account/addresses/new/",
        f"/account/addresses/{world['address'].pk}/edit/",
        "/account/close/",
        "/privacy/",
        "/privacy/history/",
        "/requests/",
        "/requests/new/",
        f"/requests/{world['done'].reference}/",
        f"/requests/{world['open'].reference}/",
        f"/requests/{world['open'].reference}/cancel/",
        f"/requests/{world['lifted'].reference}/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/accounts/2fa/",
    ]
    assert violations(page, paths) == {}


def test_pages_for_compliance_officers(page, screen, world):
    officer_signs_in(page, StaffFactory(group=COMPLIANCE_GROUP))
    paths = [
        "/dashboard/",
        "/dashboard/?status=all",
        f"/dashboard/requests/{world['open'].reference}/",
        f"/dashboard/requests/{world['erased'].reference}/",
        f"/dashboard/requests/{world['erased'].reference}/receipt/",
        "/dashboard/metrics/",
        "/dashboard/metrics/yearly/",
        "/dashboard/audit/",
        "/dashboard/processing/",
        "/dashboard/retention/",
        f"/dashboard/requests/{world['in_review'].reference}/",
        f"/dashboard/requests/{world['lifted'].reference}/",
        # Last: the lift's form is opened on it below.
        f"/dashboard/requests/{world['restricted'].reference}/",
    ]
    found = violations(page, paths)
    # The form that lifts the restriction, opened.
    page.locator("#lift summary").click()
    found.update(violations(page, [None]))
    assert found == {}


def test_the_pages_that_start_a_download(page, screen, world, mailoutbox):
    """The pages that say a download is starting (after the password, or after a guest's
    right code) start it without a timed refresh of the page, which WCAG 2.2.1 rules out."""
    sign_in(page, world["customer"].email, PASSWORD)
    page.goto(f"/requests/{world['done'].reference}/download/")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_download():
        page.get_by_role("button", name="Confirm").click()
        page.get_by_role("status").filter(has_text="Your download starts").wait_for()
        found = violations(page, [None])
    page.context.clear_cookies()
    _guest, code = guest_code_asked(page, mailoutbox, "guest.axe@example.com")
    page.get_by_label("The code from the e-mail").fill(code)
    with page.expect_download():
        page.get_by_role("button", name="Download", exact=True).click()
        page.get_by_role("status").filter(has_text="Your download starts").wait_for()
        found.update(violations(page, [None]))
    assert found == {}


def test_the_cover_letter_in_a_copy(page, screen, world):
    """index.html in the ZIP, opened from disk in a browser: its wide tables scroll by
    keyboard too (each a labelled region in the tab order)."""
    from tests.dsr.helpers import open_package

    letter = open_package(world["done"]).read("index.html").decode()
    page.set_content(letter)
    assert page.locator(".scroll[tabindex='0'][role='region']").count() == 2
    assert violations(page, [None]) == {}


def test_the_staff_admin_pages_support_uses(page, screen, world):
    from privacy_portal.permissions import SUPPORT_GROUP
    from tests.e2e.test_dashboard_journeys import staff_signs_in

    staff_signs_in(page, StaffFactory(group=SUPPORT_GROUP), "/admin/")
    page.locator("#site-name").wait_for()
    paths = [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/user/?q=axe",
        f"/admin/accounts/user/{world['customer'].pk}/change/",
        "/admin/accounts/address/",
        "/admin/dsr/datasubjectrequest/",
        "/admin/dsr/datasubjectrequest/add/",
        "/admin/consent/consentstate/",
    ]
    assert violations(page, paths) == {}


def test_a_form_sent_back_with_errors_takes_focus_to_what_to_correct(page):
    """A wrong password, or a request without its kind: the title says so and focus goes to
    the error (of the whole form) or to the first field to correct, named by its error."""
    page.goto("/accounts/login/")
    page.get_by_label("E-mail", exact=True).fill("nobody@example.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.title().startswith("Please correct")
    assert page.evaluate("document.activeElement.matches('.errorlist.nonfield')")

    sign_in(page, UserFactory(email="errors.person@example.com").email, PASSWORD)
    page.goto("/requests/new/")
    page.get_by_role("button", name="Send my request").click()
    page.wait_for_load_state()
    assert page.title().startswith("Please correct")
    focused = page.evaluate(
        "(e => [e.name, e.getAttribute('aria-invalid'), e.getAttribute('aria-describedby')])"
        "(document.activeElement)"
    )
    assert focused[0] == "type" and focused[1] == "true"
    assert "id_type_error" in focused[2].split()
    assert "Choose what you would like us to do." in page.locator("#id_type_error").inner_text()

    # An objection without a use ticked: focus goes to the first box that can be ticked, not
    # to a cookie category the request cannot name (disabled), from the summary's link too.
    page.get_by_label("Objection", exact=False).first.check()
    page.get_by_role("button", name="Send my request").click()
    page.wait_for_load_state()
    state = "(e => [e.name, e.disabled, e.getClientRects().length > 0])(document.activeElement)"
    assert page.evaluate(state) == ["purposes", False, True]
