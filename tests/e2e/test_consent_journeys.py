"""Consent in Chromium: the cookie banner, the preference centre, unsubscribing from a captured
e-mail, and Global Privacy Control."""

from __future__ import annotations

import re

import pytest

from consent.models import ConsentEvent, ConsentState
from tests.consent.conftest import record
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, link_in, mail_to, sign_in
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The portal's own measurement tags are configurable (CONSENT_PORTAL_TAGS); these stand in for
# Google Analytics and an advertising beacon, served by the browser's request interception.
ANALYTICS = "/static/consent/journey-analytics.js"
ADVERTISING = "/static/consent/journey-advertising.js"
NECESSARY = {"csrftoken", "sessionid", "inper_consent"}


@pytest.fixture
def tagged_portal(settings, page):
    settings.CONSENT_PORTAL_TAGS = [
        {"category": "analytics", "src": ANALYTICS},
        {"category": "marketing", "src": ADVERTISING},
    ]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.route(
        f"**{ANALYTICS}",
        lambda route: route.fulfill(
            content_type="application/javascript",
            body="window.analyticsRan = (window.analyticsRan || 0) + 1;"
            "document.cookie = '_ga=GA1.1.42.1; path=/';",
        ),
    )
    page.route(
        f"**{ADVERTISING}",
        lambda route: route.fulfill(
            content_type="application/javascript",
            body="window.advertisingRan = true; document.cookie = '_gcl_au=1.1.42; path=/';",
        ),
    )
    return requests


def _cookie_names(page) -> set[str]:
    return {cookie["name"] for cookie in page.context.cookies()}


def test_reject_then_accept_analytics_then_sign_in_carries_the_choice_to_the_account(
    page, tagged_portal
):
    customer = UserFactory(email="banner.person@example.com")
    page.goto("/")
    banner = page.get_by_role("dialog", name="Cookies on Inper's websites")
    banner.wait_for()
    # The three choices are equally prominent: same size.
    sizes = {
        tuple(round(v) for v in (box["width"], box["height"]))
        for box in (
            banner.get_by_role("button", name=name).bounding_box()
            for name in ("Accept all", "Reject all", "Choose cookies")
        )
    }
    assert len(sizes) == 1

    banner.get_by_role("button", name="Reject all").click()
    page.get_by_role("status").filter(has_text="Your cookie choices were saved.").wait_for(
        state="attached"
    )
    page.reload()
    page.wait_for_load_state("networkidle")
    assert not banner.is_visible()
    assert page.evaluate("window.analyticsRan") is None
    assert not any(ANALYTICS in url or ADVERTISING in url for url in tagged_portal)
    assert _cookie_names(page) <= NECESSARY
    assert ConsentEvent.objects.filter(source="banner", granted=True).count() == 0

    # The permanent "Cookie settings" link reopens the choice; keyboard only from here.
    page.get_by_role("link", name="Cookie settings").last.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Choose which cookies we may use")
    dialog.wait_for()
    assert page.evaluate("document.activeElement.id") == "inper-cb-settings-title"
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    page.get_by_role("link", name="Cookie settings").last.focus()
    page.keyboard.press("Enter")
    dialog.get_by_role("switch", name="Analytics").check()
    dialog.get_by_role("button", name="Save my choices").click()

    page.wait_for_function("() => window.analyticsRan === 1")  # a function: no eval under CSP
    assert page.evaluate("window.advertisingRan") is None
    assert "_ga" in _cookie_names(page) and "_gcl_au" not in _cookie_names(page)
    consent_mode = page.evaluate(
        "window.dataLayer.filter(e => e[0] === 'consent').map(e => [e[1], e[2]])"
    )
    assert consent_mode[0][0] == "default" and consent_mode[0][1]["analytics_storage"] == "denied"
    assert consent_mode[-1][1]["analytics_storage"] == "granted"
    assert consent_mode[-1][1]["ad_storage"] == "denied"

    sign_in(page, customer.email, PASSWORD)
    page.wait_for_url(re.compile("/account/"))
    states = {
        s.purpose.key: s.granted
        for s in ConsentState.objects.filter(subject__user=customer, subject__visitor_id=None)
    }
    assert states == {"preferences": False, "analytics": True, "marketing": False}


# What has keyboard focus: its id, else its class, else its tag.
FOCUSED = "(e => e.id || e.className || e.tagName)(document.activeElement)"


def test_keyboard_users_meet_the_skip_link_first_and_keep_their_place_after_choosing(page):
    page.goto("/")
    banner = page.get_by_role("dialog", name="Cookies on Inper's websites")
    banner.wait_for()

    # The skip link comes first in the tab order, the banner right after it; focused, it is
    # drawn over the banner, not hidden behind it.
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "skip-link"
    assert page.evaluate(
        "(e => { const r = e.getBoundingClientRect();"
        " return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === e; })"
        "(document.activeElement)"
    )
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('.inper-cb')")

    # Reject all, by keyboard: focus lands on the main content, not on <body>.
    banner.get_by_role("button", name="Reject all").focus()
    page.keyboard.press("Enter")
    banner.wait_for(state="detached")
    assert page.evaluate(FOCUSED) == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")

    # Choose, then Save in the settings: the same.
    page.context.clear_cookies()
    page.reload()
    banner.wait_for()
    banner.get_by_role("button", name="Choose cookies").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Choose which cookies we may use")
    dialog.get_by_role("button", name="Save my choices").focus()
    page.keyboard.press("Enter")
    dialog.wait_for(state="detached")
    assert not banner.is_visible()
    assert page.evaluate(FOCUSED) == "main"

    # Someone already on a link when the banner appears returns there after Accept all.
    page.context.clear_cookies()
    held = []
    page.route("**/privacy/banner/config.json*", lambda route: held.append(route))
    page.reload()
    page.get_by_role("link", name="Sign in").first.focus()
    while not held:  # the banner asks for its texts after the page has loaded
        page.wait_for_timeout(20)
    held[0].continue_()
    banner.wait_for()
    banner.get_by_role("button", name="Accept all").focus()
    page.keyboard.press("Enter")
    banner.wait_for(state="detached")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Sign in"


def test_the_settings_windows_focused_title_leaves_the_close_button_clear_on_a_phone(page):
    """The title takes focus when the window opens: its focus ring must not enclose the close
    button beside it."""
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/")
    banner = page.get_by_role("dialog", name="Cookies on Inper's websites")
    banner.get_by_role("button", name="Choose cookies").click()
    dialog = page.get_by_role("dialog", name="Choose which cookies we may use")
    dialog.wait_for()
    title = page.locator(".inper-cb-modal .inper-cb__title")
    assert page.evaluate("document.activeElement.classList.contains('inper-cb__title')")
    box = title.bounding_box()
    close = dialog.get_by_role("button", name=re.compile("Close")).bounding_box()
    ring = 5  # the outline (3 px) and its offset (2 px)
    assert box["x"] + box["width"] + ring <= close["x"]


def test_preference_centre_toggles_and_history_shows_both_events(page):
    customer = UserFactory(email="prefs.person@example.com")
    record(customer, "marketing_post", True)  # so that the banner does not matter here
    page.goto("/")
    page.get_by_role("button", name="Reject all").click()
    sign_in(page, customer.email, PASSWORD)
    page.goto("/privacy/")

    surveys = page.locator("#purpose-surveys")
    surveys.get_by_role("button", name=re.compile(r"^Switch on\W+Customer surveys$")).click()
    # The page opens at the choice: the confirmation is there, in view, and focus is on the
    # choice's button, where the person was.
    said = surveys.get_by_role("status").filter(has_text="“Customer surveys” is now on.")
    said.wait_for()
    assert said.is_visible() and said.evaluate(
        "e => e.getBoundingClientRect().top >= 0 && e.getBoundingClientRect().bottom <= innerHeight"
    )
    assert page.evaluate("document.activeElement.closest('#purpose-surveys') !== null")
    assert surveys.get_by_text("On", exact=True).is_visible()
    surveys.get_by_role("button", name=re.compile(r"^Switch off\W+Customer surveys$")).click()
    page.get_by_role("status").filter(has_text="“Customer surveys” is now off.").wait_for()

    page.get_by_role("link", name="History of my choices").click()
    rows = page.locator("tbody tr", has_text="Customer surveys")
    assert rows.count() == 2
    assert "Withdrawn" in rows.nth(0).inner_text() and "Given" in rows.nth(1).inner_text()
    # The banner's choice before signing in, once (not again as signing in took it over).
    assert page.locator("tbody tr", has_text="Analytics").count() == 1
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my consent receipt (JSON)").click()
    assert download.value.suggested_filename.startswith("inper-consent-receipt-")


def test_a_cookie_choice_made_signed_in_is_in_the_history_once(page):
    customer = UserFactory(email="banner.signed.in@example.com")
    sign_in(page, customer.email, PASSWORD)
    page.goto("/account/")

    banner = page.get_by_role("dialog", name="Cookies on Inper's websites")
    banner.get_by_role("button", name="Reject all").click()
    page.get_by_role("status").filter(has_text="Your cookie choices were saved.").wait_for(
        state="attached"
    )
    page.goto("/privacy/history/")

    rows = page.locator("tbody tr", has_text="Analytics")
    assert rows.count() == 1
    # A first choice that says no: "Declined", not "Withdrawn" (nothing was given before).
    assert "Declined" in rows.inner_text() and "Cookie banner" in rows.inner_text()


def test_unsubscribe_link_from_a_captured_email_works_with_cookies_cleared(
    page, mailoutbox, live_server
):
    customer = UserFactory(email="news.person@example.com")
    page.goto("/")
    page.get_by_role("button", name="Reject all").click()
    sign_in(page, customer.email, PASSWORD)
    page.goto("/privacy/")
    page.get_by_role("button", name=re.compile(r"^Switch on\W+News and offers by e-mail$")).click()
    page.get_by_text("Waiting for your confirmation").wait_for()

    confirm = link_in(mail_to(mailoutbox, customer.email)[-1], "/privacy/confirm/")
    page.goto(confirm.replace("http://localhost:8000", live_server.url))
    page.get_by_role("button", name="Yes, send me Inper news").click()
    page.get_by_role("heading", name="Thank you: you are subscribed").wait_for()

    welcome = mail_to(mailoutbox, customer.email)[-1]
    assert welcome.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = link_in(welcome, "/unsubscribe/")

    page.context.clear_cookies()
    page.goto(unsubscribe.replace("http://localhost:8000", live_server.url))
    page.get_by_role("button", name="Yes, unsubscribe me").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()

    state = ConsentState.objects.get(purpose__key="marketing_email")
    assert (state.granted, state.source) == (False, "unsubscribe")
    assert "sessionid" not in _cookie_names(page)


def test_a_sec_gpc_visit_turns_advertising_off_and_says_so(browser, live_server, settings):
    settings.CONSENT_PORTAL_TAGS = [{"category": "marketing", "src": ADVERTISING}]
    customer = UserFactory(email="gpc.person@example.com")
    record(customer, "partner_sharing", True, source="preference_centre")
    context = browser.new_context(
        base_url=live_server.url, locale="en-GB", extra_http_headers={"Sec-GPC": "1"}
    )
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
    )
    page = context.new_page()
    page.route(
        f"**{ADVERTISING}",
        lambda route: route.fulfill(
            content_type="application/javascript", body="window.advertisingRan = true;"
        ),
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/")
        banner = page.get_by_role("dialog", name="Cookies on Inper's websites")
        banner.get_by_text("Global Privacy Control signal; we honoured it").wait_for()
        banner.get_by_role("button", name="Accept all").click()
        page.wait_for_function("() => document.cookie.includes('inper_consent')")
        assert page.evaluate("window.advertisingRan") is None

        sign_in(page, customer.email, PASSWORD)
        page.goto("/privacy/")
        page.get_by_text(
            "Your browser sent a Global Privacy Control signal; we honoured it."
        ).wait_for()
        sharing = page.locator("#purpose-partner_sharing")
        assert sharing.get_by_text("Off", exact=True).is_visible()
        assert sharing.get_by_role("button").count() == 0
    finally:
        context.close()
    states = {
        (s.purpose.key, s.subject.visitor_id is None): (s.granted, s.source)
        for s in ConsentState.objects.filter(purpose__honours_gpc=True).select_related("subject")
    }
    assert states[("partner_sharing", True)] == (False, "gpc")
    assert states[("marketing", False)] == (False, "gpc")
    assert errors == []


# Another Inper site, served by request interception. On a loopback address like the test
# server, so that Chromium's private-network rules treat them alike; another origin all the same.
SHOP = "http://127.0.0.1:9"


def test_the_banner_embedded_on_another_inper_site_saves_cross_origin_in_german(
    browser, live_server, settings
):
    settings.CONSENT_BANNER_ORIGINS = [SHOP]
    # Chromium's local-network checks would refuse an intercepted page loading from loopback.
    embedding = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"],
    )
    try:
        _embedded_journey(embedding.new_page(), live_server)
    finally:
        embedding.close()


def _embedded_journey(page, live_server):
    page.route(
        f"{SHOP}/",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f"""<!doctype html><html lang="de"><head><meta charset="utf-8">
            <script src="{live_server.url}/static/consent/banner.js"></script>
            <script type="text/plain" data-category="analytics"
                    src="{SHOP}/analytics.js"></script>
            </head><body><h1>Inper Shop</h1>
            <a href="#" data-cookie-settings>Cookie-Einstellungen</a></body></html>""",
        ),
    )
    page.route(
        f"{SHOP}/analytics.js",
        lambda route: route.fulfill(
            content_type="application/javascript", body="window.shopAnalyticsRan = true;"
        ),
    )
    page.goto(f"{SHOP}/")
    # German texts: the category names come from the catalogue; the banner's own texts from the
    # translation catalogue (English until it holds them).
    banner = page.get_by_role("dialog", name=re.compile("Cookies (on|auf den Websites von) Inper"))
    banner.get_by_role("button", name=re.compile("Choose cookies|Cookies auswählen")).click()
    page.get_by_role("switch", name="Analyse").check()
    page.get_by_role("button", name=re.compile("Save my choices|Meine Auswahl speichern")).click()
    page.wait_for_function("() => window.shopAnalyticsRan === true")
    visitor = re.search(r"inper_consent=1\.([0-9a-f-]{36})\.", page.evaluate("document.cookie"))
    assert visitor, "the choice is kept in a first-party cookie of the shop"
    from tests.worker import wait_until

    wait_until(
        lambda: ConsentState.objects.filter(
            subject__visitor_id=visitor.group(1), purpose__key="analytics", granted=True
        ).exists(),
        timeout=10,
        message="the choice recorded by the portal",
    )
