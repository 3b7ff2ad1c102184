"""The cookie banner's endpoints, the server-rendered cookie settings, sign-in linking and
Global Privacy Control."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.test import Client

from consent.cookie import banner_cookie_parse
from consent.models import ConsentEvent, ConsentState, ConsentSubject
from tests.conftest import login
from tests.consent.conftest import record

pytestmark = pytest.mark.django_db
SAVE = "/privacy/banner/choice"


def _save(client, body, content_type="application/json", **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(SAVE, data, content_type=content_type, REMOTE_ADDR="192.0.2.55", **extra)


def test_config_is_translated_and_lists_services_and_cookies(client):
    config = client.get("/privacy/banner/config.json?lang=de").json()
    assert config["language"] == "de"
    assert config["texts"]["accept_all"] and config["lifetime_days"] == 365
    categories = {c["key"]: c for c in config["categories"]}
    assert list(categories) == ["necessary", "preferences", "analytics", "marketing"]
    assert categories["necessary"]["required"] and categories["marketing"]["gpc"]
    services = {s["name"] for s in categories["analytics"]["services"]}
    # A product's name stays; Inper's own services are named in German.
    assert services == {"Google Analytics", "Messung von Besuchen"}
    assert {s["name"] for s in categories["necessary"]["services"]} == {"Inper-Websites"}
    english = client.get("/privacy/banner/config.json?lang=en").json()["categories"]
    assert english[0]["services"][0]["name"] == "Inper websites"
    assert categories["analytics"]["title"] == "Analyse"
    ga = categories["analytics"]["services"][0]["cookies"][0]
    assert ga["name"] == "_ga" and ga["lifetime"] == "2 Jahre"


def test_a_choice_is_recorded_under_the_visitor_id_with_proof(client):
    visitor = uuid.uuid4()
    response = _save(
        client,
        {"visitor_id": str(visitor), "choices": {"analytics": True, "marketing": False}},
        HTTP_USER_AGENT="Chrome/140",
    )
    assert response.status_code == 201
    assert response.json()["granted"] == ["analytics", "necessary"]
    subject = ConsentSubject.objects.get(visitor_id=visitor)
    events = {e.purpose.key: e for e in ConsentEvent.objects.filter(subject=subject)}
    assert {k: e.granted for k, e in events.items()} == {"analytics": True, "marketing": False}
    assert events["analytics"].ip_truncated == "192.0.2.0"
    assert events["analytics"].source == "banner" and events["analytics"].user_agent_hash
    assert events["analytics"].policy_version.document == "cookie_policy"
    assert subject.user_id is None


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ({"choices": {"tracking": True}}, "application/json", 400),
        ({"choices": {"analytics": "yes"}}, "application/json", 400),
        ({"choices": {}}, "application/json", 400),
        ({"choices": {"analytics": True}, "visitor_id": "not-a-uuid"}, "application/json", 400),
        ({"choices": {"analytics": True}, "extra": 1}, "application/json", 400),
        ({"choices": {"necessary": False}}, "application/json", 400),
        ({"choices": {"surveys": True}}, "application/json", 400),
        ({"choices": {"analytics": True}, "policy_version": 99}, "application/json", 400),
        ({"choices": {"analytics": True}}, "application/xml", 415),
        ({"choices": {"analytics": True}, "language": "x" * 3000}, "application/json", 413),
    ],
)
def test_bad_banner_payloads_get_a_clear_4xx_and_no_ledger_row(client, body, content_type, status):
    response = _save(client, body, content_type)
    assert response.status_code == status
    assert response.json()["error"]
    assert not ConsentEvent.objects.exists()


def test_the_portal_names_its_own_cookies_as_it_sets_them(client, settings):
    """The catalogue names the cookies of Inper's sites; in production the portal's own are
    ``__Host-`` cookies, and its cookie list and its banner say so. Other sites' banners keep
    the sites' names."""
    settings.SESSION_COOKIE_NAME = "__Host-sessionid"
    settings.CSRF_COOKIE_NAME = "__Host-csrftoken"
    settings.CONSENT_COOKIE_NAME = "__Host-inper_consent"
    settings.CONSENT_BANNER_ORIGINS = ["https://shop.inper.example"]

    def names(response):
        return {
            cookie["name"]
            for category in response.json()["categories"]
            for service in category["services"]
            for cookie in service["cookies"]
        }

    page = client.get("/privacy/cookies/").content.decode()
    assert "<code>__Host-sessionid</code>" in page and "<code>__Host-inper_consent</code>" in page
    assert "<code>_ga</code>" in page  # third-party cookies keep their names
    here = names(client.get("/privacy/banner/config.json"))
    assert {"__Host-sessionid", "__Host-csrftoken", "__Host-inper_consent", "_ga"} <= here
    assert "sessionid" not in here
    shop = names(
        client.get("/privacy/banner/config.json", HTTP_ORIGIN="https://shop.inper.example")
    )
    assert {"sessionid", "csrftoken", "inper_consent", "_ga"} <= shop
    assert not any(name.startswith("__Host-") for name in shop)


def test_other_sites_may_save_only_when_allowed(client, settings):
    settings.CONSENT_BANNER_ORIGINS = ["https://shop.inper.example"]
    body = {"choices": {"analytics": True}}
    allowed = _save(client, body, "text/plain", HTTP_ORIGIN="https://shop.inper.example")
    assert allowed.status_code == 201
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.inper.example"
    refused = _save(client, body, "text/plain", HTTP_ORIGIN="https://evil.example")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    assert ConsentEvent.objects.count() == 1


@pytest.mark.usefixtures("redis_cache")
def test_the_banner_save_is_rate_limited_with_429(client, settings):
    settings.CONSENT_RATE_BANNER = "3/m"
    statuses = [_save(client, {"choices": {"analytics": False}}).status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    assert ConsentEvent.objects.count() == 3


def test_cookie_settings_work_without_javascript(client):
    page = client.get("/privacy/cookies/").content.decode()
    assert "Google Analytics" in page and "_ga" in page and "Always on" in page
    response = client.post("/privacy/cookies/", {"action": "save", "analytics": "on"})
    assert response.status_code == 302
    cookie = banner_cookie_parse(response.cookies["inper_consent"].value)
    assert cookie.granted == {"necessary", "analytics"}
    state = {
        s.purpose.key: s.granted
        for s in ConsentState.objects.filter(subject__visitor_id=cookie.visitor_id)
    }
    assert state == {"preferences": False, "analytics": True, "marketing": False}

    client.post("/privacy/cookies/", {"action": "reject_all"})
    assert not ConsentState.objects.get(
        subject__visitor_id=cookie.visitor_id, purpose__key="analytics"
    ).granted


def test_signing_in_links_the_browser_choice_to_the_account_latest_wins(client, customer):
    from tests.factories import PASSWORD

    client.post("/privacy/cookies/", {"action": "accept_all"})
    response = client.post("/accounts/login/", {"login": customer.email, "password": PASSWORD})
    assert response.status_code == 302
    states = {
        s.purpose.key: (s.granted, s.source)
        for s in ConsentState.objects.filter(subject__user=customer, subject__visitor_id=None)
    }
    assert states == {
        "preferences": (True, "banner"),
        "analytics": (True, "banner"),
        "marketing": (True, "banner"),
    }
    visitor = ConsentSubject.objects.get(visitor_id__isnull=False)
    assert visitor.user_id == customer.pk


def test_a_signed_in_save_with_the_csrf_token_lands_on_the_account(customer):
    client = login(Client(enforce_csrf_checks=True), customer)
    client.get("/privacy/cookies/")
    token = client.cookies["csrftoken"].value
    body = {"choices": {"analytics": True}}
    _save(client, body, "text/plain", HTTP_X_CSRFTOKEN=token)
    assert ConsentState.objects.filter(subject__user=customer, subject__visitor_id=None).exists()

    # Without the token (a forged cross-site request) the account is left alone.
    ConsentState.objects.all().delete()
    _save(client, {"choices": {"analytics": False}}, "text/plain")
    assert not ConsentState.objects.filter(subject__visitor_id=None).exists()


def test_sec_gpc_turns_advertising_off_for_the_account_and_says_so(customer_client, customer):
    record(customer, "partner_sharing", True, source="preference_centre")
    record(customer, "marketing", True, source="banner")

    page = customer_client.get("/privacy/", HTTP_SEC_GPC="1").content.decode()

    assert "Global Privacy Control signal; we honoured it" in page
    states = {
        s.purpose.key: (s.granted, s.source)
        for s in ConsentState.objects.filter(purpose__honours_gpc=True)
    }
    assert states == {"partner_sharing": (False, "gpc"), "marketing": (False, "gpc")}
    # Honoured once: another visit with the signal records nothing new.
    count = ConsentEvent.objects.count()
    customer_client.get("/privacy/", HTTP_SEC_GPC="1")
    assert ConsentEvent.objects.count() == count


def test_sec_gpc_overrides_the_marketing_category_in_a_banner_save(client):
    response = _save(client, {"choices": {"analytics": True, "marketing": True}}, HTTP_SEC_GPC="1")
    assert response.json()["granted"] == ["analytics", "necessary"]
    event = ConsentEvent.objects.get(purpose__key="marketing")
    assert (event.granted, event.source) == (False, "gpc")


def test_gpc_well_known_resource(client):
    response = client.get("/.well-known/gpc.json")
    assert response.json()["gpc"] is True and response["Content-Type"] == "application/json"


def test_banner_script_stays_within_its_15_kb_budget():
    """A rough minification (comments and indentation removed) must stay under 15 KB; a real
    minifier does far better (see docs/benchmarks.md)."""
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "static/consent/banner.js").read_text()
    stripped = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    stripped = "\n".join(
        line.strip() for line in stripped.splitlines() if not line.strip().startswith("//")
    )
    assert len(stripped.encode()) < 15 * 1024
    assert "require(" not in source and "import " not in source  # no dependencies


def test_a_material_cookie_policy_change_or_an_old_choice_asks_again(client, superuser):
    from datetime import timedelta

    from django.utils import timezone

    from consent import services
    from consent.cookie import BannerCookie

    client.post("/privacy/cookies/", {"action": "accept_all"})
    assert "You have not chosen yet" not in client.get("/privacy/cookies/").content.decode()

    services.policy_publish(
        document="cookie_policy",
        body="## Cookies\nA new advertising partner.",
        material=True,
        summary={"en": "New advertising partner."},
        actor=superuser,
    )
    config = client.get("/privacy/banner/config.json").json()
    assert config["policy"] == {**config["policy"], "version": 2, "material_version": 2}
    assert "You have not chosen yet" in client.get("/privacy/cookies/").content.decode()

    # A choice under the new policy holds until its lifetime (12 months) is over.
    fresh = BannerCookie(uuid.uuid4(), 2, timezone.now() - timedelta(days=364), frozenset())
    stale = BannerCookie(uuid.uuid4(), 2, timezone.now() - timedelta(days=366), frozenset())
    assert fresh.is_current(material_version=2) and not stale.is_current(material_version=2)


def test_a_choice_on_a_browser_someone_else_signed_in_on_stays_out_of_their_history(
    client, customer, other_customer
):
    from tests.factories import PASSWORD

    client.post("/privacy/cookies/", {"action": "reject_all"})
    client.post("/accounts/login/", {"login": customer.email, "password": PASSWORD})
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"login": other_customer.email, "password": PASSWORD})

    client.post("/privacy/cookies/", {"action": "accept_all"})

    first = login(Client(), customer)
    history = first.get("/privacy/history/").content.decode()
    assert ">Given<" not in history
    assert not ConsentEvent.objects.filter(subject__user=customer, granted=True).exists()
    # The second person's choice is theirs, and the browser now holds a visitor id of its own.
    assert ConsentState.objects.get(
        subject__user=other_customer, subject__visitor_id=None, purpose__key="analytics"
    ).granted
    cookie = banner_cookie_parse(client.cookies["inper_consent"].value)
    assert ConsentSubject.objects.get(visitor_id=cookie.visitor_id).user_id == other_customer.pk


def test_a_choice_after_signing_out_stays_out_of_the_accounts_history_and_copy(client, customer):
    """Someone who uses the browser after the account holder signed out: their choices are
    not the account holder's (not in the history, the ledger or a copy of the data)."""
    from tests.factories import PASSWORD

    client.post("/accounts/login/", {"login": customer.email, "password": PASSWORD})
    client.post("/privacy/cookies/", {"action": "reject_all"})
    theirs = banner_cookie_parse(client.cookies["inper_consent"].value).visitor_id
    client.post("/accounts/logout/")

    client.post("/privacy/cookies/", {"action": "accept_all"})
    visitor = banner_cookie_parse(client.cookies["inper_consent"].value).visitor_id
    # The banner's own call, naming the account's visitor id.
    saved = _save(client, {"visitor_id": str(theirs), "choices": {"marketing": True}})

    assert saved.status_code == 201 and saved.json()["visitor_id"] not in (str(theirs), "")
    assert visitor != theirs
    assert ConsentSubject.objects.get(visitor_id=visitor).user_id is None
    assert not ConsentEvent.objects.filter(subject__user=customer, granted=True).exists()
    history = login(Client(), customer).get("/privacy/history/").content.decode()
    assert ">Given<" not in history


def _history_rows(client, title: str) -> list[str]:
    """The rows of the person's history page that are about ``title``."""
    page = client.get("/privacy/history/").content.decode()
    return [row for row in page.split("<tr>") if f">{title}</td>" in row]


def test_a_cookie_choice_made_signed_in_is_listed_once_in_the_history(customer):
    client = login(Client(), customer)

    client.post("/privacy/cookies/", {"action": "reject_all"})

    (row,) = _history_rows(client, "Analytics")
    # Never given, so not "withdrawn".
    assert "Declined" in row and "Withdrawn" not in row and "Cookie banner" in row
    # The ledger keeps both records: the browser's and the account's.
    assert ConsentEvent.objects.filter(purpose__key="analytics").count() == 2


def test_a_cookie_choice_made_before_signing_in_is_listed_once_when_it_was_made(client, customer):
    from tests.factories import PASSWORD

    client.post("/privacy/cookies/", {"action": "accept_all"})
    made = ConsentEvent.objects.get(purpose__key="analytics")
    client.post("/accounts/login/", {"login": customer.email, "password": PASSWORD})
    assert ConsentEvent.objects.filter(purpose__key="analytics").count() == 2  # copied

    (row,) = _history_rows(client, "Analytics")
    assert "Given" in row and f'datetime="{made.occurred_at.isoformat()}"' in row


def test_separate_cookie_choices_each_stay_in_the_history(client, customer):
    from tests.factories import PASSWORD

    client.post("/privacy/cookies/", {"action": "accept_all"})  # before signing in
    client.post("/accounts/login/", {"login": customer.email, "password": PASSWORD})
    client.post("/privacy/cookies/", {"action": "reject_all"})
    client.post("/privacy/cookies/", {"action": "accept_all"})

    rows = _history_rows(client, "Analytics")
    assert ["Given" in row for row in rows] == [True, False, True]


def test_cookies_withdrawn_by_a_request_made_signed_in_are_listed_once(customer):
    client = login(Client(), customer)
    client.post("/privacy/cookies/", {"action": "accept_all"})

    client.post("/requests/new/", {"type": "withdraw_consent", "purposes": ["analytics"]})

    rows = _history_rows(client, "Analytics")
    assert len(rows) == 2
    assert "Withdrawn" in rows[0] and "A privacy request in your name" in rows[0]
    assert "Given" in rows[1] and "Cookie banner" in rows[1]
    # Withdrawn on the account and in this browser, as recorded.
    assert ConsentEvent.objects.filter(purpose__key="analytics", granted=False).count() == 2


def test_signing_in_on_a_browser_someone_else_used_takes_none_of_their_choices(
    client, customer, other_customer
):
    from tests.factories import PASSWORD

    client.post("/accounts/login/", {"login": customer.email, "password": PASSWORD})
    client.post("/privacy/cookies/", {"action": "accept_all"})
    client.post("/accounts/logout/")

    client.post("/accounts/login/", {"login": other_customer.email, "password": PASSWORD})

    assert not ConsentEvent.objects.filter(subject__user=other_customer).exists()
    assert not ConsentState.objects.filter(subject__user=other_customer, granted=True).exists()
    assert not _history_rows(client, "Analytics")


def test_the_cookie_policy_lists_the_cookies_it_says_it_lists(client):
    """ "Persistent cookies, which are kept for the time listed below": the current policy lists
    every category's services and cookies with their lifetimes; an address in it is a link."""
    from consent.catalogue import catalogue

    page = client.get("/privacy/cookie-policy/").content.decode()
    assert "The cookies we use" in page and "listed below" in page
    names = [
        cookie.name
        for purpose in catalogue().cookie_categories
        for service in purpose.services
        for cookie in service.cookies
    ]
    assert names and all(f"<code>{name}</code>" in page for name in names)
    assert all(purpose.title() in page for purpose in catalogue().cookie_categories)
    assert "Lifetime" in page
    assert 'href="http://www.google.com/policies/privacy/partners"' in page


def test_the_session_cookie_a_visitor_gets_is_described_as_what_it_does(client):
    """A visitor who saves cookie settings without script gets a session cookie (for the
    "saved" message): the table says so, with the lifetime the cookie really has."""
    response = client.post("/privacy/cookies/", {"action": "reject_all"}, follow=True)
    assert client.cookies["sessionid"].value
    assert client.cookies["sessionid"]["max-age"] == 30 * 60
    page = client.get("/privacy/cookie-policy/").content.decode()
    row = page.split("<code>sessionid</code>", 1)[1].split("</tr>", 1)[0]
    assert "shows a confirmation after you send a form" in row
    assert "30 minutes; signed in, from your last visit (12 hours at most)" in row
    assert response.status_code == 200


def test_the_session_cookie_seeded_before_is_described_anew_unless_staff_changed_it():
    from importlib import import_module

    from django.apps import apps as django_apps

    from consent.models import Cookie

    migration = import_module("consent.migrations.0009_session_cookie_described")
    cookie = Cookie.objects.get(name="sessionid")
    cookie.texts = migration.SEEDED
    cookie.save()
    other = Cookie.objects.get(name="csrftoken")
    before = other.texts
    migration.describe(django_apps, None)
    cookie.refresh_from_db()
    assert cookie.texts == migration.DESCRIBED
    assert (
        cookie.texts["de"]["lifetime"]
        == "30 Minuten; angemeldet ab Ihrem letzten Besuch (höchstens 12 Stunden)"
    )
    other.refresh_from_db()
    assert other.texts == before

    cookie.texts = {"en": {"purpose": "Edited by staff.", "lifetime": "session"}}
    cookie.save()
    migration.describe(django_apps, None)
    cookie.refresh_from_db()
    assert cookie.texts["en"]["purpose"] == "Edited by staff."


OPT_OUT = "/privacy/do-not-sell-or-share/"


def test_every_page_links_to_the_opt_out_of_selling_and_sharing(client):
    page = client.get("/").content.decode()
    assert f'<a href="{OPT_OUT}">Do Not Sell or Share My Personal Information</a>' in page


def test_a_visitor_opts_out_of_sharing_in_their_browser_keeping_their_other_cookies(client):
    client.post("/privacy/cookies/", {"action": "accept_all"})
    page = client.get(OPT_OUT).content.decode()
    assert 'Advertising and social media</strong>: <span class="badge badge-warn">on' in page
    # Tied to an e-mail address, not to a browser: withdrawn by a request.
    assert "type=withdraw_consent&amp;purposes=partner_sharing" in page
    assert client.post(OPT_OUT).status_code == 302

    cookie = banner_cookie_parse(client.cookies["inper_consent"].value)
    assert set(cookie.granted) == {"necessary", "analytics", "preferences"}
    event = ConsentEvent.objects.filter(purpose__key="marketing").latest("pk")
    assert event.granted is False and event.subject.visitor_id == cookie.visitor_id
    # The proof names the page the choice was made on.
    assert event.source == "opt_out_sharing"
    page = client.get(OPT_OUT).content.decode()
    # Only the browser's part: what is tied to an e-mail address needs an account or a request.
    assert "Done in this browser." in page and "will not sell or share" not in page
    assert 'Advertising and social media</strong>: <span class="badge badge-ok">off' in page


def test_a_customer_opts_out_of_sharing_for_their_account_with_one_button(
    customer_client, customer, django_capture_on_commit_callbacks
):
    from dsr.models import DataSubjectRequest
    from tests.dsr.helpers import add_store

    # A system registered as acting on the sharing (as the demo's group CRM acts on transfers).
    add_store(
        "partners",
        "dsr.connectors.manual.ManualConnector",
        identities=["email"],
        config={"actions": ["restrict"], "purpose_keys": ["partner_sharing"]},
    )
    record(customer, "partner_sharing", True, source="preference_centre")
    record(customer, "analytics", True, source="banner")
    assert "tied to your e-mail address" not in customer_client.get(OPT_OUT).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(OPT_OUT, follow=True)

    from consent.services import subject_for_user

    account = subject_for_user(customer)
    states = {
        s.purpose.key: s.granted
        for s in ConsentState.objects.filter(subject=account, purpose__honours_gpc=True)
    }
    assert states == {"partner_sharing": False, "marketing": False}
    assert ConsentState.objects.get(subject=account, purpose__key="analytics").granted
    # The partners that received the details are told by a withdrawal, named to the customer.
    withdrawal = DataSubjectRequest.objects.get(user=customer, type="withdraw_consent")
    assert withdrawal.purposes == ["partner_sharing"]
    assert withdrawal.reference in response.content.decode()
    assert "Done: Inper will not sell or share your personal information." in (
        response.content.decode()
    )
    # The person's history says where they switched it off.
    marketing = ConsentEvent.objects.filter(subject=account, purpose__key="marketing")
    assert marketing.get().source == "opt_out_sharing"
    history = customer_client.get("/privacy/history/").content.decode()
    assert "Do Not Sell or Share page" in history

    # Again: nothing new to withdraw, no second request.
    customer_client.post(OPT_OUT)
    assert DataSubjectRequest.objects.filter(user=customer).count() == 1


def test_the_opt_out_takes_a_post_with_its_csrf_token_only(customer):
    guarded = Client(enforce_csrf_checks=True)
    assert guarded.post(OPT_OUT).status_code == 403
    assert not ConsentEvent.objects.exists()


def test_an_account_opt_out_reaches_the_other_browsers_signed_in_to_it(customer):
    """Browser A accepted every cookie; in browser B the person opted out of selling and
    sharing: A, signed in to the same account, has advertising off at its next page."""
    browser_a, browser_b = login(Client(), customer), login(Client(), customer)
    browser_a.post("/privacy/cookies/", {"action": "accept_all"})
    before = banner_cookie_parse(browser_a.cookies["inper_consent"].value)
    assert "marketing" in before.granted
    browser_b.post(OPT_OUT)

    page = browser_a.get("/privacy/cookies/").content.decode()
    after = banner_cookie_parse(browser_a.cookies["inper_consent"].value)
    assert after.granted == before.granted - {"marketing"}
    assert after.visitor_id == before.visitor_id
    assert re.search(r'name="marketing"[^>]*role="switch"(?![^>]*checked)', page)
    # A choice made in A later than the account's wins in A (and is the account's now).
    browser_a.post("/privacy/cookies/", {"action": "accept_all"})
    browser_a.get("/")
    assert "marketing" in banner_cookie_parse(browser_a.cookies["inper_consent"].value).granted
