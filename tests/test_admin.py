"""The staff admin: allauth sign-in, a second factor required, least privilege, audited."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from accounts.models import User
from privacy_portal.audit.models import AuditEvent
from tests.conftest import login
from tests.factories import AddressFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_admin_login_goes_through_allauth(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_staff_without_a_second_factor_are_sent_to_set_one_up():
    staff = StaffFactory(group="Support", totp=False)
    client = login(Client(), staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/totp/activate/")


def test_staff_whose_session_did_not_use_the_second_factor_must_confirm_it(support_user):
    client = login(Client(), support_user, mfa=False)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/") or response[
        "Location"
    ].startswith("/accounts/2fa/reauthenticate/")


def test_only_staff_who_may_use_the_dashboard_are_shown_its_link(
    support_client, compliance_client, customer_client
):
    link = 'href="/dashboard/"'
    assert link in compliance_client.get("/account/").content.decode()
    for client in (support_client, customer_client):
        assert link not in client.get("/account/").content.decode()


def test_customers_cannot_use_the_admin(customer_client):
    assert customer_client.get("/admin/").status_code in (302, 403)
    assert customer_client.get("/admin/accounts/user/").status_code in (302, 403)
    assert customer_client.get("/admin/login/").status_code == 403


def test_support_finds_customers_by_email_name_and_phone(support_client):
    UserFactory(
        email="alice.w@example.com", first_name="Alice", last_name="Wonder", phone="+493012345678"
    )
    UserFactory(email="zed@example.com", first_name="Zed", last_name="Else")

    for term in (
        "alice.w@",
        "Wonder",
        "030 12345678",
        "+49 30 12345678",
        "+49 (0)30 12345678",
        "0049 30 1234 5678",
    ):
        assert _found(support_client, term) == {"alice.w@example.com"}, term


def _found(client, term):
    """The e-mail addresses of the customers a search of the customer list finds."""
    page = client.get("/admin/accounts/user/", {"q": term}, follow=True).content.decode()
    return set(re.findall(r"[\w.]+@example\.com", page))


def test_support_finds_names_as_heard_without_their_accents(support_client):
    """On the phone "Müller" and "José" sound as "Muller" and "Jose"; typed with or without
    the accents, the search finds them, and only them."""
    UserFactory(email="jm@example.com", first_name="José", last_name="Müller")
    UserFactory(email="other@example.com", first_name="Joseph", last_name="Mahler")

    for term in ("Muller", "müller", "Jose Muller", "JOSÉ MÜLLER", "mÜLLEr"):
        assert _found(support_client, term) == {"jm@example.com"}, term


def test_the_customer_list_is_named_for_whom_it_holds(support_client):
    page = support_client.get("/admin/accounts/user/").content.decode()
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', page, re.S).group(1)
    assert "Customers and staff" in crumbs
    assert "Accounts &rsaquo; Accounts" not in crumbs


def test_support_sees_no_column_or_filter_of_staff_accounts_it_cannot_see(
    support_client, superuser_client
):
    """Staff accounts are a superuser's: a staff column and filters by staff status and group
    would always say no and find nothing for support."""
    page = support_client.get("/admin/accounts/user/").content.decode()
    assert "column-is_staff" not in page and "is_staff__exact" not in page
    assert "groups__id__exact" not in page
    superuser_page = superuser_client.get("/admin/accounts/user/").content.decode()
    assert "column-is_staff" in superuser_page and "groups__id__exact" in superuser_page


def test_staff_lists_name_their_columns_and_filters_in_the_staff_members_language(
    support_client, compliance_client, customer
):
    from consent.services import consent_record, subject_for_user
    from dsr.models import DataStore
    from privacy_portal.permissions import COMPLIANCE_GROUP
    from tests.dsr.helpers import add_store, file_request, run_pending_tasks

    DataStore.objects.update(enabled=False)
    for key in ("psp", "call-centre"):
        add_store(
            key,
            "dsr.connectors.manual.ManualConnector",
            config={"actions": ["export"], "assigned_group": COMPLIANCE_GROUP},
        )
    run_pending_tasks(file_request(type="access", user=customer))
    consent_record(
        subject=subject_for_user(customer),
        purpose_key="marketing_email",
        granted=False,
        source="preference_centre",
        actor=customer,
    )
    for client, path, german, english in (
        (compliance_client, "/admin/dsr/manualstep/", "Nach Datenspeicher", "Nach store"),
        (compliance_client, "/admin/dsr/manualstep/", "Nach zugewiesen an", "assigned group"),
        (support_client, "/admin/consent/consentstate/", "Betroffene Person", "subject"),
    ):
        user = User.objects.get(pk=client.session["_auth_user_id"])
        user.preferred_language = "de"
        user.save(update_fields=["preferred_language"])
        page = client.get(path, headers={"accept-language": "de"}).content.decode()
        shown = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
        assert german.lower() in shown.lower() and english not in shown, (path, german)


def test_a_search_for_an_address_without_an_account_offers_to_record_by_that_address(
    support_client,
):
    UserFactory(email="has.account@example.com")
    wanted = "trade.show+fair@example.com"
    page = support_client.get("/admin/accounts/user/", {"q": wanted}, follow=True).content.decode()
    assert "No portal account has the address trade.show+fair@example.com" in page
    # The forms it leads to start with that address, which the links name by a key only.
    links = re.findall(
        r'href="(/admin/(?:dsr/datasubjectrequest/add|consent/consentstate/record)/\?s=[\w-]+)"',
        page,
    )
    assert len(links) == 2 and "trade.show" not in "".join(links)
    for link in links:
        form = support_client.get(html.unescape(link)).content.decode()
        assert f'value="{wanted}"' in form, link
    # An address in a link fills in nothing; nor a key this session does not keep.
    for path in ("/admin/dsr/datasubjectrequest/add/", "/admin/consent/consentstate/record/"):
        for crafted in ({"email": wanted}, {"s": "not-a-kept-key"}):
            assert wanted not in support_client.get(path, crafted).content.decode(), path
    # Found, or not an address: nothing to offer; nor for an account the list's filters hide,
    # or a staff account support does not see.
    StaffFactory(email="colleague@inper.example")
    for term, filters in (
        ("has.account@example.com", {}),
        ("Müller", {}),
        ("has.account@example.com", {"is_active__exact": "0"}),
        ("colleague@inper.example", {}),
    ):
        page = support_client.get("/admin/accounts/user/", {"q": term, **filters}, follow=True)
        page = page.content.decode()
        assert "No portal account has the address" not in page, term


def test_a_crafted_link_to_record_a_request_fills_in_nothing(support_client):
    crafted = {
        "email": "a@example.com",
        "type": "erasure",
        "received_on": "2026-01-01",
        "identity_method": "staff_callback",
        "identity_note": "verified by phone",
    }
    page = support_client.get("/admin/dsr/datasubjectrequest/add/", crafted).content.decode()
    assert 'value="a@example.com"' not in page  # only a kept search's key names an address
    assert "verified by phone" not in page and 'value="2026-01-01"' not in page
    assert not re.search(r'<option value="erasure"[^>]* selected', page)
    assert not re.search(r'<option value="staff_callback"[^>]* selected', page)
    too_long = "a" * 300 + "@example.com"
    page = support_client.get("/admin/dsr/datasubjectrequest/add/", {"email": too_long})
    assert too_long not in page.content.decode()


def test_support_finds_a_customer_by_the_number_of_an_order_in_the_shop(support_client, tmp_path):
    """A customer calls about an order: the shop (a store that knows order numbers) says whose
    it is, and the customer list shows that account."""
    from dsr.demo import shop
    from tests.dsr.helpers import add_store
    from tests.stores.conftest import ANNA, BEN, make_database, rows, url_text

    url = make_database("sqlite", tmp_path)
    shop.fill(url, [ANNA, BEN], others_count=3)
    (order, *_) = rows(url, shop.orders, shop.orders.c.email == ANNA.email)
    add_store(
        "shop",
        "dsr.connectors.sql.SQLConnector",
        identities=["email", "order_number"],
        config=shop.store_config(url_text(url)),
    )
    UserFactory(email=ANNA.email, first_name="Anna")
    UserFactory(email=BEN.email, first_name="Ben")

    page = support_client.get("/admin/accounts/user/", {"q": order["order_number"]}, follow=True)

    text = page.content.decode()
    assert ANNA.email in text and BEN.email not in text

    # Ben ordered as a guest (no portal account): the search says whose order it is, and
    # offers to record his request or choice by that address.
    User.objects.filter(email=BEN.email).delete()
    (bens, *_) = rows(url, shop.orders, shop.orders.c.email == BEN.email)
    page = support_client.get("/admin/accounts/user/", {"q": bens["order_number"]}, follow=True)
    text = html.unescape(page.content.decode())
    assert (
        f"The shop's order {bens['order_number']} was placed with the address {BEN.email}." in text
    )
    assert re.search(r"/admin/dsr/datasubjectrequest/add/\?s=[\w-]+", text)
    # A number no order has says nothing of the kind.
    page = support_client.get("/admin/accounts/user/", {"q": "INP-999999"}, follow=True)
    assert "was placed with the address" not in page.content.decode()


def test_support_sees_profile_and_addresses_but_no_secrets(support_client):
    alice = UserFactory(email="alice.w@example.com")
    AddressFactory(user=alice, line1="7 Secret Garden")

    page = support_client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()

    assert "alice.w@example.com" in page and "7 Secret Garden" in page
    assert "pbkdf2" not in page and "md5$" not in page and alice.password not in page
    assert "password" not in page.lower().split("<form")[-1] or "id_password" not in page


def test_a_customers_page_leads_support_to_their_requests_and_to_recording_for_them(
    support_client, compliance_client
):
    """Found by support, a customer's page is no dead end: their requests, and recording a
    request or a choice with their address filled in."""
    from tests.dsr.helpers import file_request

    alice = UserFactory(email="alice.w@example.com", phone="+447700900123")
    other = UserFactory(email="other.person@example.com")
    for person in (alice, other):
        file_request(type="access", user=person)
    page = support_client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    tools = page.split('class="object-tools"', 1)[1].split("</ul>", 1)[0]
    links = {
        html.unescape(text): html.unescape(href)
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', tools)
    }
    # No address in any link: the customer by number, their requests by a kept search.
    assert "alice.w" not in tools
    assert re.fullmatch(r"/admin/dsr/datasubjectrequest/\?s=[\w-]+", links["Their requests"])
    assert links["Record a request"].endswith(f"/add/?customer={alice.pk}")
    assert links["Record a marketing choice"].endswith(f"/record/?customer={alice.pk}")
    listed = support_client.get(links["Their requests"], follow=True).content.decode()
    assert "alice.w@example.com" in listed and "other.person@example.com" not in listed
    form = support_client.get(links["Record a marketing choice"]).content.decode()
    # Her number too: "no texts or calls" said on the phone reaches the number itself.
    assert 'value="alice.w@example.com"' in form and 'value="+447700900123"' in form
    form = support_client.get(links["Record a request"]).content.decode()
    assert 'value="alice.w@example.com"' in form and f'value="{alice.first_name}' in form
    # Types in staff words, as the dashboard names them (not "a copy of my data").
    assert '<option value="access">Access</option>' in form and "of my data" not in form
    # A staff account's number fills in nothing.
    colleague = StaffFactory(email="colleague@inper.example")
    record = f"/admin/consent/consentstate/record/?customer={colleague.pk}"
    assert 'value="colleague' not in support_client.get(record).content.decode()
    # The officer, who records neither, is offered the requests only.
    page = compliance_client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    assert "Their requests" in page and "Record a request" not in page


@pytest.mark.parametrize(
    "hidden",
    [
        "/admin/accounts/user/?email=alice.w@example.com&password__startswith=pbkdf2",
        "/admin/accounts/user/?password__regex=%5Epbkdf2",
        "/admin/accounts/user/?credentials_changed_at__isnull=False",
        "/admin/dsr/datasubjectrequest/?verification_nonce__startswith=a",
        "/admin/dsr/datasubjectrequest/?details__icontains=erase",
        "/admin/dsr/datastore/?secrets_encrypted__startswith=g",
    ],
)
def test_a_list_filters_only_by_what_it_offers(support_client, compliance_client, hidden):
    """A filter in the address on a column the list does not offer would read it a character
    at a time, by the count of matches (a password hash, a verification link's nonce)."""
    UserFactory(email="alice.w@example.com")
    for client in (support_client, compliance_client):
        response = client.get(hidden)
        assert response.status_code in (400, 403), (hidden, response.status_code)
        assert "alice.w@example.com" not in response.content.decode()


def test_the_lists_offered_filters_still_filter(support_client):
    UserFactory(email="de@example.com", country="DE")
    UserFactory(email="fr@example.com", country="FR")

    page = support_client.get("/admin/accounts/user/?country__exact=DE").content.decode()
    assert "de@example.com" in page and "fr@example.com" not in page
    assert support_client.get("/admin/accounts/user/?is_active__exact=1").status_code == 200
    requests = support_client.get("/admin/dsr/datasubjectrequest/?received_at__year=2026")
    assert requests.status_code == 200


def test_support_cannot_change_customers_or_reach_superuser_pages(support_client):
    alice = UserFactory(first_name="Alice")
    response = support_client.post(
        f"/admin/accounts/user/{alice.pk}/change/", {"email": alice.email, "first_name": "Mallory"}
    )
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.first_name == "Alice"
    for path in (
        "/admin/auth/group/",
        "/admin/mfa/authenticator/",
        "/admin/audit/auditevent/",
        "/admin/accounts/user/add/",
    ):
        assert support_client.get(path).status_code == 403, path


def test_compliance_reads_the_audit_trail_but_cannot_change_it(compliance_client):
    UserFactory()
    assert compliance_client.get("/admin/audit/auditevent/").status_code == 200
    event = AuditEvent.objects.create  # noqa: F841 (the admin offers no add view)
    assert compliance_client.get("/admin/audit/auditevent/add/").status_code == 403


def _account_form(user, **changes):
    """The admin's account form as posted for ``user``, with ``changes``."""
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": "",
        "country": "DE",
        "preferred_language": "en",
        "is_active": "on",
        "addresses-TOTAL_FORMS": "0",
        "addresses-INITIAL_FORMS": "0",
        "addresses-MIN_NUM_FORMS": "0",
        "addresses-MAX_NUM_FORMS": "1000",
        "former_emails-TOTAL_FORMS": "0",
        "former_emails-INITIAL_FORMS": "0",
        "former_emails-MIN_NUM_FORMS": "0",
        "former_emails-MAX_NUM_FORMS": "1000",
        **changes,
    }


def test_admin_changes_are_audited_with_field_names(superuser_client, superuser):
    alice = UserFactory(first_name="Alice", last_name="Old")
    response = superuser_client.post(
        f"/admin/accounts/user/{alice.pk}/change/", _account_form(alice, last_name="New")
    )
    assert response.status_code == 302, response.content.decode()[:3000]

    event = AuditEvent.objects.get(action="admin.changed", object_id=str(alice.pk))
    assert event.actor_id == superuser.pk
    assert event.after == {"fields": ["Last name"]} or "last" in str(event.after).lower()
    assert "New" not in str(event.after)
    # No correction of hers is being carried out: staff are told, and the trail says so.
    assert event.reason == "without_correction_request"
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("recorded as made without one" in m for m in said)
    page = superuser_client.get("/dashboard/audit/").content.decode()
    assert "made without a correction request of the customer" in page

    # Saved again as it is: nothing changed, nothing more in the audit trail.
    alice.refresh_from_db()
    response = superuser_client.post(
        f"/admin/accounts/user/{alice.pk}/change/", _account_form(alice)
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="admin.changed", object_id=str(alice.pk)).count() == 1


def test_staff_change_their_password_through_allauth_and_it_is_audited(support_user):
    from tests.factories import PASSWORD

    client = login(Client(), support_user, mfa=True, reauthenticated=True)
    response = client.get("/admin/password_change/")
    assert response.status_code == 302 and response["Location"] == "/accounts/password/change/"
    new = "a-brand-new-passphrase-42"
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    support_user.refresh_from_db()
    assert support_user.check_password(new) and support_user.credentials_changed_at is not None
    assert AuditEvent.objects.filter(
        action="account.password.changed", object_id=str(support_user.pk)
    ).exists()


def test_support_finds_and_opens_customers_only_not_staff_accounts(
    support_client, superuser_client, superuser, compliance_user
):
    alice = UserFactory(email="alice.w@example.com")
    staff: tuple[Any, ...] = (
        superuser,
        compliance_user,
        StaffFactory(is_staff=False, is_superuser=True),
    )

    def listed(client, **query):
        response = client.get("/admin/accounts/user/", query, follow=True)
        return {user.email for user in response.context["cl"].result_list}

    assert alice.email in listed(support_client)
    for account in staff:
        assert account.email not in listed(support_client)
        assert listed(support_client, q=account.email) == set()
        for page in ("change", "history"):
            response = support_client.get(f"/admin/accounts/user/{account.pk}/{page}/")
            # Django's admin answers an object outside the queryset as one that does not exist.
            assert response.status_code in (302, 404), page
            assert account.email not in response.content.decode()
            assert response.status_code == 404 or response["Location"] == "/admin/"

    assert {alice.email, *(account.email for account in staff)} <= listed(superuser_client)
    for account in staff:
        assert listed(superuser_client, q=account.email) == {account.email}
        response = superuser_client.get(f"/admin/accounts/user/{account.pk}/change/")
        assert response.status_code == 200 and account.email in response.content.decode()


def test_support_and_officers_see_the_addresses_of_customers_only_not_of_staff(
    support_client, compliance_client, superuser_client, superuser, compliance_user
):
    customers_home = AddressFactory(user=UserFactory(email="bea.w@example.com"), city="Bremen")
    staff_homes = [
        AddressFactory(user=account, city="Staffhausen")
        for account in (superuser, compliance_user, StaffFactory(is_staff=False, is_superuser=True))
    ]

    def listed(client, **query):
        response = client.get("/admin/accounts/address/", query, follow=True)
        return {address.pk for address in response.context["cl"].result_list}

    for client in (support_client, compliance_client):
        assert listed(client) == {customers_home.pk}
        for home in staff_homes:
            assert listed(client, q=home.user.email) == set()
            for page in ("change", "history"):
                response = client.get(f"/admin/accounts/address/{home.pk}/{page}/")
                assert response.status_code in (302, 404), page
                body = response.content.decode()
                assert home.user.email not in body and "Staffhausen" not in body
    assert listed(superuser_client) == {customers_home.pk, *(home.pk for home in staff_homes)}


def test_a_sign_in_address_changed_in_the_admin_holds_copies_and_erasures(superuser_client):
    from allauth.account.models import EmailAddress

    from dsr.models import State
    from tests.dsr.helpers import file_request

    alice, bob = UserFactory(country="DE"), UserFactory(country="DE")
    response = superuser_client.post(
        f"/admin/accounts/user/{alice.pk}/change/",
        _account_form(alice, email="alice.elsewhere@example.com"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    address = EmailAddress.objects.get(user=bob)
    response = superuser_client.post(
        f"/admin/account/emailaddress/{address.pk}/change/",
        {"user": bob.pk, "email": "bob.elsewhere@example.com", "primary": "on", "verified": "on"},
    )
    assert response.status_code == 302

    for person in (alice, bob):
        old = person.email
        person.refresh_from_db()
        assert person.credentials_changed_at is not None
        request = file_request(type="access", user=person)
        assert request.state == State.IN_REVIEW
        assert request.held_reason == "credentials_recently_changed"
        # Inper's other systems know them by the old address: their requests search by it,
        # and support finds them by it.
        assert request.snapshot()["former_emails"] == [old]
        found = superuser_client.get("/admin/accounts/user/", {"q": old}, follow=True)
        assert person.email in found.content.decode()


def test_changes_to_e_mail_addresses_and_staff_roles_are_audited(superuser_client, superuser):
    from allauth.account.models import EmailAddress
    from django.contrib.auth.models import Group, Permission

    alice = UserFactory(email="alice.m@example.com")
    address = EmailAddress.objects.get(user=alice)
    EmailAddress.objects.filter(pk=address.pk).update(verified=False)
    response = superuser_client.post(
        f"/admin/account/emailaddress/{address.pk}/change/",
        {"user": alice.pk, "email": "alice.new@example.com", "primary": "on"},
    )
    assert response.status_code == 302
    response = superuser_client.post(
        "/admin/account/emailaddress/",
        {"action": "make_verified", "_selected_action": [address.pk]},
    )
    assert response.status_code == 302
    role = Group.objects.create(name="Auditors")
    response = superuser_client.post(
        f"/admin/auth/group/{role.pk}/change/",
        {"name": "Auditors", "permissions": [Permission.objects.get(codename="use_dashboard").pk]},
    )
    assert response.status_code == 302

    changes = AuditEvent.objects.filter(action="admin.changed", actor_id=superuser.pk)
    on_address = changes.filter(object_type="account.emailaddress", object_id=str(address.pk))
    # Named as Django's admin names changed fields (their labels).
    assert [event.after["fields"] for event in on_address.order_by("seq")] == [
        ["Email address"],
        ["Verified"],
    ]
    assert {event.scope for event in on_address} == {f"accounts.user:{alice.pk}"}
    assert changes.get(object_type="auth.group", object_id=str(role.pk)).after == {
        "fields": ["Permissions"]
    }
    # Field names only: the addresses themselves are not in the audit trail.
    assert "alice" not in str(list(AuditEvent.objects.values("before", "after", "reason")))


def test_the_admin_log_does_not_keep_an_e_mail_address_changed_or_removed_there(
    superuser_client,
):
    from allauth.account.models import EmailAddress
    from django.contrib.admin.models import LogEntry

    alice = UserFactory(email="alice.log@example.com")
    address = EmailAddress.objects.get(user=alice)
    superuser_client.post(
        f"/admin/account/emailaddress/{address.pk}/change/",
        {"user": alice.pk, "email": "alice.typo@example.com", "primary": "on", "verified": "on"},
    )
    superuser_client.post(f"/admin/account/emailaddress/{address.pk}/delete/", {"post": "yes"})

    # The log outlives the account's erasure: it names the address by its id only.
    entries = list(LogEntry.objects.filter(object_id=str(address.pk)))
    assert len(entries) == 2
    assert not [entry for entry in entries if "alice" in entry.object_repr]
    superuser_client.get("/admin/")  # shows (and so ends) the messages about the changes
    assert "alice.typo@example.com" not in superuser_client.get("/admin/").content.decode()


def test_the_list_of_purposes_costs_the_same_queries_however_many_there_are(
    superuser_client, superuser
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from consent.models import Purpose
    from consent.services import purpose_text_update

    def add_purposes(count: int, start: int) -> None:
        for number in range(start, start + count):
            purpose = Purpose.objects.create(
                key=f"study_{number}", kind="processing", legal_basis="legitimate_interest"
            )
            purpose_text_update(
                purpose_id=purpose.pk,
                texts={"en": {"title": f"Study {number}", "description": "A study."}},
                material=True,
                change_summary="",
                actor=superuser,
            )

    def queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            page = superuser_client.get("/admin/consent/purpose/").content.decode()
        return len(captured), page

    add_purposes(2, 0)
    queries()  # the first page also loads what the admin caches
    few, _page = queries()
    add_purposes(12, 2)
    many, page = queries()

    assert "Study 13" in page
    assert many == few


def test_a_search_is_kept_out_of_the_lists_addresses_and_links(support_client):
    """Support's searches are e-mail addresses, names and phone numbers: the list's address,
    its links (pages, sorting, filters) and its rows' links name the search by a key kept in
    the session, never by the term; another staff member's session cannot use the key."""
    import re

    for n in range(120):  # more than a page
        UserFactory(email=f"alice.{n:03d}@example.com", first_name="Alice", last_name="Wonder")
    UserFactory(email="zed@example.com", first_name="Zed")

    typed = support_client.get("/admin/accounts/user/", {"q": "Wonder", "is_active__exact": "1"})
    assert typed.status_code == 302
    location = typed["Location"]
    assert "Wonder" not in location and "is_active__exact=1" in location
    key = re.search(r"[?&]s=([\w-]+)", location).group(1)

    page = support_client.get(location)
    text = page.content.decode()
    assert page.status_code == 200 and page.context["cl"].result_count == 120
    assert "zed@example.com" not in text
    assert 'value="Wonder"' in text  # the search box still shows what was searched
    links = re.findall(r'href="([^"]*)"', text)
    assert not [link for link in links if "Wonder" in link]
    assert any(f"s={key}" in link and "p=2" in link for link in links)  # the next page
    assert any(f"s%3D{key}" in link for link in links)  # a row's link, back to this list
    second = support_client.get(f"{location}&p=2")
    assert second.context["cl"].result_count == 120 and "alice." in second.content.decode()

    other = login(Client(), StaffFactory(group="Support"), mfa=True)
    lost = other.get(location, follow=True)
    assert "That search is no longer kept: search again." in lost.content.decode()
    assert "zed@example.com" in lost.content.decode()  # the whole list, unsearched


@pytest.mark.parametrize(
    ("group", "lands_on"), [("Compliance officer", "/dashboard/"), ("Support", "/admin/")]
)
def test_staff_signing_in_land_where_they_work(group, lands_on):
    """Not on the customer's "My account": officers on their dashboard, support in the admin
    (a ``next`` page still wins)."""
    import time

    from django.contrib.auth.models import Group

    from accounts.demo import totp_code
    from tests.factories import PASSWORD, TOTP_SECRET

    assert Group.objects.filter(name=group).exists()
    for next_page, expected in (("", lands_on), ("?next=/privacy/", "/privacy/")):
        staff = StaffFactory(group=group)  # one each: a code is used once
        client = Client()
        response = client.post(
            f"/accounts/login/{next_page}", {"login": staff.email, "password": PASSWORD}
        )
        assert response["Location"].startswith("/accounts/2fa/authenticate/")
        response = client.post(
            "/accounts/2fa/authenticate/", {"code": totp_code(TOTP_SECRET, at=time.time())}
        )
        assert response.status_code == 302 and response["Location"] == expected


def test_a_customer_signing_in_lands_on_their_account(customer):
    from tests.factories import PASSWORD

    response = Client().post("/accounts/login/", {"login": customer.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/account/"


def test_the_country_filter_offers_only_the_countries_customers_are_in(support_client):
    UserFactory(country="DE")
    UserFactory(country="FR")
    page = support_client.get("/admin/accounts/user/").content.decode()
    assert "?country=DE" in page and "?country=FR" in page
    assert "?country=ZW" not in page  # Zimbabwe: nobody there


def test_a_day_staff_gave_comes_back_as_the_date_picker_reads_it_in_any_language():
    """A form sent back with an error keeps the day: the browser's date field takes only
    2026-11-12, which German dates (12.11.2026) are not."""
    from datetime import date

    from django.utils import translation

    from privacy_portal.forms import ReceivedOnField

    with translation.override("de"):
        html = ReceivedOnField().widget.render("received_on", date(2026, 11, 12))
    assert 'type="date"' in html and 'value="2026-11-12"' in html


@pytest.mark.parametrize("number", ["²", "12345678901234567890", "-3", "x"])
def test_a_customer_number_that_is_no_id_fills_in_nothing(support_client, number):
    for path in ("/admin/dsr/datasubjectrequest/add/", "/admin/consent/consentstate/record/"):
        response = support_client.get(path, {"customer": number})
        assert response.status_code == 200, (path, number)
