"""Filing and following requests in the browser's HTTP terms: who may see what, when the
password is asked again, and what bad input gets."""

from __future__ import annotations

import html
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import unquote, urlencode

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django.utils.formats import date_format

from consent.models import ConsentEvent
from dsr import notifications
from dsr.models import DataSubjectRequest, ExportPackage, State
from privacy_portal.audit.models import AuditEvent
from tests.conftest import login
from tests.dsr.helpers import add_store, file_request, run_pending_tasks
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_anyone_can_read_how_requests_work(client):
    page = client.get("/requests/").content.decode()
    assert "Start a request" in page and "Erasure" in page


def test_my_requests_give_dates_no_reader_can_take_for_another_day(customer_client, customer):
    """Not 12/06/2026, which half of Europe reads as 12 June."""
    created = file_request(type="restriction", user=customer)
    DataSubjectRequest.objects.filter(pk=created.pk).update(
        received_at=datetime(2026, 12, 6, 9, 0, tzinfo=UTC),
        due_at=datetime(2027, 1, 6, 9, 0, tzinfo=UTC),
    )
    page = customer_client.get("/requests/").content.decode()
    assert "6 December 2026" in page and "6 January 2027" in page
    assert "12/06/2026" not in page and "01/06/2027" not in page


def test_the_cookie_categories_one_may_withdraw_from_say_they_are_cookies(customer_client):
    form = customer_client.get("/requests/new/").content.decode()
    assert re.search(r'value="analytics"[^>]*>\s*Cookies: Analytics</label>', form)
    assert re.search(r'value="marketing_email"[^>]*>\s*News and offers by e-mail</label>', form)
    response = customer_client.post(
        "/requests/new/", {"type": "withdraw_consent", "purposes": ["preferences"]}
    )
    page = customer_client.get(response["Location"]).content.decode()
    assert "<li>Cookies: Preferences</li>" in page


def _ticked(page: str) -> set[str]:
    """The uses of data ticked on a request form."""
    boxes = re.findall(r'<input[^>]*name="purposes"[^>]*>', page)
    return {re.search(r'value="([^"]+)"', box).group(1) for box in boxes if " checked" in box}


def test_a_link_to_the_request_form_ticks_the_uses_it_names_that_its_type_can_name(client):
    """The home page's "Stop marketing" link (tests/test_site.py) ticks every marketing use."""
    from dsr.consent_bridge import marketing_purposes

    form = client.get("/requests/new/?type=objection&marketing=all").content.decode()
    assert _ticked(form) == marketing_purposes() and len(marketing_purposes()) >= 3
    # A link names uses one by one; uses the type cannot name, or that do not exist, are not
    # ticked, and none is ticked for a type that names no uses.
    form = client.get(
        "/requests/new/?type=withdraw_consent&purposes=analytics&purposes=nonsense"
        "&purposes=statistics"
    ).content.decode()
    assert _ticked(form) == {"analytics"}
    # Withdrawing consent from marketing ticks only the marketing done with consent.
    form = client.get("/requests/new/?type=withdraw_consent&marketing=all").content.decode()
    assert "marketing_post" in marketing_purposes() and "marketing_post" not in _ticked(form)
    assert {"marketing_email", "marketing_sms"} <= _ticked(form)
    assert not _ticked(client.get("/requests/new/?type=access&marketing=all").content.decode())


def test_a_customer_is_told_before_asking_for_erasure_that_their_account_goes_too(
    customer_client,
):
    """As the account-closure page says: an erasure deletes the account with the rest."""
    form = customer_client.get("/requests/new/?type=erasure").content.decode()
    assert "Your Inper account, if you have one, is deleted too" in form


def test_a_request_written_signed_in_and_sent_after_the_session_ended_is_kept(customer):
    """Not turned into a guest's form asking for an e-mail address: sign in again and find
    what you wrote."""
    from tests.factories import PASSWORD

    client = login(Client(), customer)
    form = client.get("/requests/new/").content.decode()
    (mark,) = re.findall(r'name="as_account" value="(\w+)"', form)
    client.logout()  # the session ends while the person writes

    details = "My street is Lindenstraße, not Lindenstrasse."
    response = client.post(
        "/requests/new/", {"as_account": mark, "type": "rectification", "details": details}
    )
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not DataSubjectRequest.objects.exists()
    page = client.get(response["Location"]).content.decode()
    assert "You were signed out. Sign in again to send your request" in page

    response = client.post(response["Location"], {"login": customer.email, "password": PASSWORD})
    assert response["Location"] == "/requests/new/"
    form = client.get("/requests/new/").content.decode()
    assert details in form
    assert re.search(r'value="rectification"[^>]*checked', form)


def test_a_request_kept_after_the_session_ended_is_not_shown_to_another_account(
    customer, other_customer
):
    """Someone else signing in next in the same browser does not find what was written."""
    from tests.factories import PASSWORD

    client = login(Client(), customer)
    form = client.get("/requests/new/").content.decode()
    (mark,) = re.findall(r'name="as_account" value="(\w+)"', form)
    client.logout()
    details = "My street is Lindenstraße, not Lindenstrasse."
    response = client.post(
        "/requests/new/", {"as_account": mark, "type": "rectification", "details": details}
    )

    client.post(response["Location"], {"login": other_customer.email, "password": PASSWORD})

    form = client.get("/requests/new/").content.decode()
    assert "Lindenstraße" not in form
    assert not re.search(r'value="rectification"[^>]*checked', form)


def test_a_signed_in_customer_is_asked_for_the_password_before_an_access_request(customer):
    client = login(Client(), customer)
    response = client.post("/requests/new/", {"type": "access"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert not DataSubjectRequest.objects.exists()
    # The password page says the request waits for it, not only that it guards the account.
    page = client.get(response["Location"]).content.decode()
    assert "Your request is not sent yet." in page

    client = login(Client(), customer, reauthenticated=True)
    response = client.post("/requests/new/", {"type": "access"})
    created = DataSubjectRequest.objects.get(user=customer)
    assert response["Location"] == f"/requests/{created.reference}/"
    assert created.identity_method == "session_reauth" and created.email == customer.email


@pytest.mark.parametrize("start", ["/requests/new/?type=access", "/requests/new/"])
def test_the_request_is_filed_once_the_password_is_confirmed(customer, start):
    """From "Get a copy of my data" (a link with the type chosen) as from the plain form: the
    form posts where allauth can replay it after the password page, so the request is filed
    then, not lost on the way back to an empty form."""
    from tests.factories import PASSWORD

    client = login(Client(), customer)
    page = client.get(start).content.decode()
    (action,) = re.findall(r'<form method="post" action="([^"]+)"[^>]*request-form', page)
    response = client.post(action, {"type": "access"})
    assert response["Location"].startswith("/accounts/reauthenticate/")
    response = client.post(response["Location"], {"password": PASSWORD})
    created = DataSubjectRequest.objects.get(user=customer)
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{created.reference}/"
    assert created.type == "access" and created.identity_method == "session_reauth"


def test_an_objection_to_marketing_needs_no_password_and_takes_effect_at_once(
    customer_client, customer
):
    response = customer_client.post(
        "/requests/new/", {"type": "objection", "purposes": ["marketing_email"]}
    )
    assert response.status_code == 302
    created = DataSubjectRequest.objects.get(user=customer)
    assert created.state == State.COMPLETED and created.identity_method == "not_required"


def test_a_signed_in_objection_beyond_marketing_asks_for_the_password_first(customer):
    data = {"type": "objection", "purposes": ["international_transfers"]}
    response = login(Client(), customer).post("/requests/new/", data)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert not DataSubjectRequest.objects.exists()

    login(Client(), customer, reauthenticated=True).post("/requests/new/", data)
    created = DataSubjectRequest.objects.get(user=customer)
    assert created.identity_method == "session_reauth"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose what you would like us to do"),
        ({"type": "teleport"}, "Select a valid choice"),
        ({"type": "rectification"}, "Tell us what is wrong"),
        ({"type": "objection"}, "Choose at least one use of your data"),
        ({"type": "objection", "purposes": ["selling_kidneys"]}, "Select a valid choice"),
        ({"type": "access", "details": "x" * 5001}, "at most 5000 characters"),
        ({"type": "access", "details": "hidden\u202etext"}, "invisible or control characters"),
    ],
)
def test_bad_request_input_gets_a_clear_message_and_files_nothing(customer_client, data, message):
    response = customer_client.post("/requests/new/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("g@ex\ufffdample.com", "Enter a valid email address."),
        ("g@" + "ä" * 60 + ".example", "Enter a valid email address."),
        ("g@bad\u200d.example", "invisible or control characters"),
    ],
)
def test_a_guest_address_no_e_mail_can_reach_is_refused_not_filed(client, email, message):
    # As a browser sends the form (URL-encoded): a multipart body holding U+FFFD is refused
    # before the form, as bytes that were not UTF-8.
    body = urlencode({"type": "access", "email": email})
    response = client.post("/requests/new/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


def test_the_error_summary_links_a_group_of_choices_to_its_first_choice(client):
    response = client.post("/requests/new/", {"type": "objection", "email": "x"})
    assert response.status_code == 400
    page = response.content.decode()
    assert '<a href="#id_purposes_0">' in page and 'id="id_purposes_0"' in page
    assert '<a href="#">' not in page
    assert not DataSubjectRequest.objects.exists()


@pytest.mark.parametrize("details", ["wrong\u202ename", "x" * 5001])
def test_a_correction_refused_for_its_text_says_why_and_only_that(customer, details):
    client = login(Client(), customer, reauthenticated=True)
    response = client.post("/requests/new/", {"type": "rectification", "details": details})
    assert response.status_code == 400
    page = response.content.decode()
    assert "invisible or control characters" in page or "at most 5000 characters" in page
    assert "Tell us what is wrong and what it should say" not in page
    assert not DataSubjectRequest.objects.exists()


def test_guests_get_the_same_answer_whether_or_not_the_address_is_known(
    client, django_capture_on_commit_callbacks
):
    UserFactory(email="known@example.com")
    answers = []
    for email in ("known@example.com", "stranger@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/requests/new/", {"type": "erasure", "email": email, "understood": "on"}
            )
        answers.append((response.status_code, response["Location"]))
    assert answers[0] == answers[1] == (302, "/requests/sent/")
    assert "Check your e-mail" in client.get("/requests/sent/").content.decode()
    assert {m.to[0] for m in mail.outbox} == {"known@example.com", "stranger@example.com"}


def test_a_guests_opt_out_is_not_told_to_wait_for_a_confirmation_link(
    client, django_capture_on_commit_callbacks
):
    """Opt-outs need no confirmation: the guest must not be told that nothing happens until
    they click a link that never comes; and the answer is the same for any address."""
    UserFactory(email="known@example.com")
    locations = []
    for email in ("known@example.com", "stranger@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/requests/new/",
                {"type": "withdraw_consent", "email": email, "purposes": ["marketing_email"]},
            )
        assert response.status_code == 302
        locations.append(response["Location"])
        filed = DataSubjectRequest.objects.get(email=email)
        withdrawal = ConsentEvent.objects.get(note=filed.reference)
        assert (withdrawal.purpose.key, withdrawal.granted) == ("marketing_email", False)
    assert locations[0] == locations[1]
    page = client.get(locations[0]).content.decode()
    assert "until then we do nothing" not in page
    assert "no link to click" in page
    assert "took effect at once" in page
    # No confirmation link was sent, only the acknowledgement and the completion.
    assert not [m for m in mail.outbox if "/requests/verify/" in m.body]


def test_a_guests_opt_out_does_not_tell_whether_the_address_has_an_open_request(
    client, customer, django_capture_on_commit_callbacks
):
    """The customer's own withdrawal still waits on a store: a stranger's opt-out for their
    address becomes its duplicate, and must be answered as for an address with nothing open."""
    file_request(
        type="withdraw_consent",
        user=customer,
        purposes=("marketing_sms", "partner_sharing"),
    )
    open_ = DataSubjectRequest.objects.get(user=customer)
    DataSubjectRequest.objects.filter(pk=open_.pk).update(state=State.RUNNING)
    locations = []
    for email in (customer.email.upper(), "nobody.here@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/requests/new/",
                {"type": "withdraw_consent", "email": email, "purposes": ["marketing_sms"]},
            )
        locations.append(response["Location"])
    assert DataSubjectRequest.objects.filter(state=State.DUPLICATE).count() == 1
    assert locations[0] == locations[1] == "/requests/sent/?opt_out=done"


def test_a_guests_objection_beyond_marketing_still_waits_for_the_confirmation_link(client):
    response = client.post(
        "/requests/new/",
        {
            "type": "objection",
            "email": "someone@example.com",
            "purposes": ["international_transfers"],
        },
    )
    page = client.get(response["Location"]).content.decode()
    assert "Check your e-mail" in page and "confirmation link" in page


def test_an_unconfirmed_guest_request_does_not_repeat_the_typed_name_in_e_mails(
    client, customer, django_capture_on_commit_callbacks
):
    lure = "https://inper-refunds.example/claim?id=1"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/requests/new/",
            {"type": "access", "email": "stranger@example.com", "full_name": f"{lure} now"},
        )
    sent = [m for m in mail.outbox if m.to == ["stranger@example.com"]]
    assert len(sent) == 2
    for message in sent:
        assert lure not in message.body
        assert all(lure not in str(body) for body, _type in message.alternatives)
    # A customer's own account is proof enough: they are greeted by name.
    with django_capture_on_commit_callbacks(execute=True):
        login(Client(), customer, reauthenticated=True).post(
            "/requests/new/", {"type": "objection", "purposes": ["statistics"]}
        )
    assert any(
        f"Hello {customer.first_name}," in m.body for m in mail.outbox if m.to == [customer.email]
    )


def test_a_guests_history_says_they_confirmed_their_address_whatever_they_asked(client):
    from dsr.services import dsr_request_verify_email

    for kind, purposes in (("objection", ("statistics",)), ("rectification", ())):
        created = file_request(
            type=kind,
            email=f"{kind}@example.com",
            channel="portal_guest",
            purposes=purposes,
            details="My name is wrong." if kind == "rectification" else "",
        )
        confirmed = dsr_request_verify_email(
            request_id=created.pk, nonce=created.verification_nonce, order_number=""
        )
        page = client.get(
            f"/requests/{confirmed.reference}/?t={notifications.status_token(confirmed)}"
        ).content.decode()
        steps = re.findall(r"</time> ([^<]+)</li>", page)
        assert "E-mail address confirmed" in steps and "Identity confirmed" not in steps, steps


def test_a_use_named_under_the_wrong_kind_of_request_says_which_kind_stops_it(client):
    page = client.post(
        "/requests/new/",
        {"type": "objection", "email": "guest@example.com", "purposes": ["preferences"]},
    ).content.decode()
    assert (
        "“Cookies: Preferences” rests on your consent: to stop it, choose "
        "“Withdraw consent” instead."
    ) in html.unescape(page)

    page = client.post(
        "/requests/new/",
        {
            "type": "withdraw_consent",
            "email": "guest@example.com",
            "purposes": ["statistics", "international_transfers"],
        },
    ).content.decode()
    assert (
        "do not rest on your consent but on Inper's legitimate interests: to stop them, "
        "choose “Objection: stop a particular use of my data” instead."
    ) in html.unescape(page)
    assert not DataSubjectRequest.objects.exists()


def test_an_opt_out_for_any_address_does_not_repeat_the_typed_name_in_its_e_mail(
    client, customer, django_capture_on_commit_callbacks
):
    """An objection to direct marketing takes effect without proof, and its e-mail goes to
    whatever address was typed: a sentence typed as the name (joined by no-break spaces, so
    that it is one "word") is not a greeting the portal sends strangers."""
    lure = "Your\u00a0Inper\u00a0account\u00a0is\u00a0locked:\u00a0https://inper-unlock.example"
    for address in ("stranger@example.com", customer.email):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/requests/new/",
                {
                    "type": "objection",
                    "email": address,
                    "purposes": ["marketing_sms"],
                    "full_name": f"{lure} X",
                },
            )
        assert response.status_code == 302
        sent = [m for m in mail.outbox if m.to == [address]]
        assert sent
        for message in sent:
            assert "inper-unlock" not in message.body and "locked" not in message.body
            assert all("inper-unlock" not in str(body) for body, _type in message.alternatives)
    assert all(m.body.startswith("Hello,") for m in mail.outbox)


def _verify_link(email: str) -> str:
    message = next(m for m in mail.outbox if m.to == [email] and "confirm" in m.subject.lower())
    match = re.search(r"https?://[^/\s]+(/requests/verify/[^\s]+/)", message.body)
    assert match
    return match.group(1)


def test_a_guest_objecting_to_marketing_and_more_is_told_the_marketing_part_already_stopped(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/requests/new/",
            {
                "type": "objection",
                "email": "mixed@example.com",
                "purposes": ["marketing_email", "international_transfers"],
            },
        )
    page = client.get(response["Location"]).content.decode()
    assert "We stopped direct marketing as you asked, at once" in page
    assert "until then we do nothing with it" not in page
    [message] = [m for m in mail.outbox if "confirm" in m.subject.lower()]
    assert "took effect at once: News and offers by e-mail." in message.body
    assert "nothing will happen" not in message.body
    assert "nothing more will happen" in message.body


def test_a_guests_opt_out_is_acknowledged_as_done_and_its_completion_names_what_ended(
    client, django_capture_on_commit_callbacks
):
    """An objection to direct marketing took effect as it was filed: no deadline to wait
    for, and both e-mails name what stopped."""
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/requests/new/",
            {"type": "objection", "email": "optout@example.com", "purposes": ["marketing_email"]},
        )
    request = DataSubjectRequest.objects.get(email="optout@example.com")
    run_pending_tasks(request)
    received = next(m for m in mail.outbox if "received" in m.subject.lower())
    for text in (received.body, received.alternatives[0][0]):
        assert "took effect at once: News and offers by e-mail." in text
        assert "We will answer by" not in text and "we will stop it" not in text
    done = mail.outbox[-1]
    assert done is not received
    assert "We no longer use your data for: News and offers by e-mail." in done.body


def test_a_guests_request_page_offers_no_list_of_their_requests(client):
    """Without an account there is no list: "My privacy requests" would lead to a page
    that shows none of theirs."""
    created = file_request(type="restriction", email="g@example.com", channel="portal_guest")
    page = client.get(
        f"/requests/{created.reference}/?t={notifications.status_token(created)}"
    ).content.decode()
    assert created.reference in page
    assert "My privacy requests" not in page


def test_a_guest_confirms_by_the_link_and_follows_the_request_by_its_signed_link(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/requests/new/",
            {"type": "withdraw_consent", "email": "g@example.com", "purposes": ["marketing_sms"]},
        )
    created = DataSubjectRequest.objects.get(email="g@example.com")
    # An opt-out needs no confirmation.
    assert created.state == State.COMPLETED

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/requests/new/", {"type": "restriction", "email": "g@example.com"})
    restriction = DataSubjectRequest.objects.get(email="g@example.com", type="restriction")
    assert restriction.state == State.AWAITING_IDENTITY
    link = _verify_link("g@example.com")

    # GET only shows a button (mail scanners open links); POST confirms.
    assert client.get(link).status_code == 200
    restriction.refresh_from_db()
    assert restriction.state == State.AWAITING_IDENTITY
    response = client.post(link)
    restriction.refresh_from_db()
    assert restriction.state == State.IN_REVIEW and restriction.identity_method == "email_link"
    status_url = response["Location"]
    assert status_url.startswith(f"/requests/{restriction.reference}/?t=")
    assert restriction.reference in Client().get(status_url).content.decode()
    assert "your e-mail address is confirmed" in client.get(status_url).content.decode()
    # The link works once.
    again = client.post(link)
    assert again.status_code == 400 and "already used" in again.content.decode()


@pytest.mark.parametrize("token", ["garbage", "eyJyIjoxLCJuIjoieCJ9:forged:signature"])
def test_forged_verification_links_are_refused_with_a_clear_page(client, token):
    response = client.get(f"/requests/verify/{token}/")
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_an_expired_verification_link_is_refused(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/requests/new/", {"type": "access", "email": "late@example.com"})
    DataSubjectRequest.objects.update(verification_sent_at=timezone.now() - timedelta(days=8))
    response = client.post(_verify_link("late@example.com"))
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert DataSubjectRequest.objects.get().state == State.AWAITING_IDENTITY


def test_a_customer_cannot_open_another_customers_request(customer, other_customer):
    theirs = file_request(type="erasure", user=other_customer)
    client = login(Client(), customer, reauthenticated=True)
    for method, path in [
        ("get", f"/requests/{theirs.reference}/"),
        ("get", f"/requests/{theirs.reference}/progress/"),
        ("get", f"/requests/{theirs.reference}/cancel/"),
        ("post", f"/requests/{theirs.reference}/cancel/"),
        ("get", f"/requests/{theirs.reference}/download/"),
        ("get", f"/requests/{theirs.reference}/download/code/"),
    ]:
        assert getattr(client, method)(path).status_code == 404, path
    theirs.refresh_from_db()
    assert theirs.state == State.IN_REVIEW
    assert theirs.reference not in client.get("/requests/").content.decode()


def test_a_guest_link_opens_only_its_own_request(client, django_capture_on_commit_callbacks):
    from dsr.notifications import status_token

    first = file_request(type="access", email="a@example.com", channel="portal_guest")
    second = file_request(type="access", email="b@example.com", channel="portal_guest")
    token = status_token(first)
    assert client.get(f"/requests/{first.reference}/?t={token}").status_code == 200
    assert client.get(f"/requests/{second.reference}/?t={token}").status_code == 404
    assert client.get(f"/requests/{first.reference}/?t=forged").status_code == 404


def test_a_guest_link_expires_with_a_clear_page(client, settings):
    from dsr.notifications import status_token

    guest = file_request(type="access", email="a@example.com", channel="portal_guest")
    then = (timezone.now() - timedelta(days=settings.DSR_STATUS_LINK_DAYS + 1)).timestamp()
    with mock.patch("django.core.signing.time") as clock:  # the link was sent long ago
        clock.time.return_value = then
        old = status_token(guest)
    expired = client.get(f"/requests/{guest.reference}/?t={old}")
    assert expired.status_code == 410
    page = expired.content.decode()
    assert "This link has expired" in page and "a@example.com" not in page
    # Nothing else answers to it either; the newest e-mail's link works.
    assert client.get(f"/requests/{guest.reference}/progress/?t={old}").status_code == 404
    fresh = client.get(f"/requests/{guest.reference}/?t={status_token(guest)}")
    assert fresh.status_code == 200 and guest.reference in fresh.content.decode()


def test_progress_is_reported_as_json(customer_client, customer):
    created = file_request(type="access", user=customer)
    data = customer_client.get(f"/requests/{created.reference}/progress/").json()
    assert data == {
        "state": "running",
        "state_label": "In progress",
        "done": 0,
        "total": 1,
        "terminal": False,
        "lifting": False,
    }


def test_the_request_page_names_the_uses_the_person_objected_to(customer_client, customer):
    customer_client.post(
        "/requests/new/", {"type": "objection", "purposes": ["marketing_email", "marketing_sms"]}
    )
    created = DataSubjectRequest.objects.get(user=customer)
    page = customer_client.get(f"/requests/{created.reference}/").content.decode()
    assert "Uses of your data:" in page
    assert "News and offers by e-mail" in page and "Offers by text message" in page


def test_a_request_sent_twice_points_to_the_one_that_goes_ahead(customer):
    client = login(Client(), customer, reauthenticated=True)
    first = client.post("/requests/new/", {"type": "rectification", "details": "My name"})
    second = client.post("/requests/new/", {"type": "rectification", "details": "My name"})
    original = DataSubjectRequest.objects.get(user=customer, duplicate_of__isnull=True)
    assert first["Location"] == f"/requests/{original.reference}/"
    assert second["Location"] != first["Location"]
    page = client.get(second["Location"]).content.decode()
    assert "We have linked the two and will answer them together" in page
    assert f'href="/requests/{original.reference}/"' in page


def test_a_guests_unconfirmed_request_links_to_the_one_that_replaced_it(client):
    """A guest who files again before confirming (the first e-mail lost) gets a new link; the
    first request's page says it was replaced and links to the newer one by its signed link."""
    for _ in range(2):
        client.post("/requests/new/", {"type": "restriction", "email": "twice@example.com"})
    replaced, newer = DataSubjectRequest.objects.order_by("pk")
    assert replaced.state == "duplicate" and replaced.duplicate_of == newer
    assert newer.state == "awaiting_identity"
    page = client.get(
        f"/requests/{replaced.reference}/?t={notifications.status_token(replaced)}"
    ).content.decode()
    assert "replaced this one" in page and "earlier request" not in page
    link = re.search(rf'href="(/requests/{newer.reference}/\?t=[^"]+)"', page)
    assert link is not None
    assert newer.reference in Client().get(link.group(1).replace("&amp;", "&")).content.decode()


def test_the_owner_downloads_the_package_after_reauthentication_and_it_is_audited(customer):
    created = run_pending_tasks(file_request(type="access", user=customer))
    url = f"/requests/{created.reference}/download/"

    response = login(Client(), customer).get(url)
    assert response.status_code == 302 and "/reauthenticate/" in response["Location"]

    response = login(Client(), customer, reauthenticated=True).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert customer.email in archive.read("stores/portal/account.json").decode()
    assert AuditEvent.objects.filter(
        action="dsr.package.downloaded", scope=f"dsr.datasubjectrequest:{created.pk}"
    ).exists()
    assert ExportPackage.objects.get(request=created).download_count == 1


def test_after_the_password_the_request_page_starts_the_download(customer):
    """Confirming the password for a download leads back to the request's page, which starts
    the download, instead of leaving the password page on screen."""
    from tests.factories import PASSWORD

    created = run_pending_tasks(file_request(type="access", user=customer))
    client = login(Client(), customer)
    download = f"/requests/{created.reference}/download/"

    reauthenticate = client.get(download)["Location"]
    response = client.post(reauthenticate, {"password": PASSWORD})
    assert response["Location"] == f"/requests/{created.reference}/?download=1"
    page = client.get(response["Location"]).content.decode()
    assert f'<a class="button" href="{download}" data-download-now>' in page
    assert "Your download starts in a moment" in page
    # Not also that the password will be asked for before it starts: it was just given.
    assert "we ask for your password again" not in page
    assert client.get(download)["Content-Type"] == "application/zip"
    # Without a fresh password, the page does not start it.
    later = login(Client(), customer).get(response["Location"]).content.decode()
    assert "data-download-now" not in later


def test_an_expired_package_cannot_be_downloaded(customer):
    created = run_pending_tasks(file_request(type="access", user=customer))
    ExportPackage.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = login(Client(), customer, reauthenticated=True).get(
        f"/requests/{created.reference}/download/"
    )
    assert response.status_code == 410


def _guest_copy_ready() -> tuple[str, str]:
    """The status token and the download-code page of a guest's completed access request."""
    from dsr.notifications import status_token
    from dsr.services import dsr_request_approve, dsr_request_verify_manually

    created = file_request(type="access", email="guest@example.com", channel="portal_guest")
    created = dsr_request_verify_manually(
        request=created, actor=None, method="staff_callback", note="Called back"
    )
    created = run_pending_tasks(dsr_request_approve(request=created, actor=None))
    token = status_token(created)
    return token, f"/requests/{created.reference}/download/code/?t={token}"


def test_a_guest_downloads_with_a_one_time_code(client):
    token, url = _guest_copy_ready()

    client.post(url, {"send": "1", "t": token})
    code = re.search(r"\b(\d{8})\b", mail.outbox[-1].body).group(1)
    wrong = client.post(url, {"code": "00000000", "t": token})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    assert client.post(url, {"code": code, "t": token}).status_code == 302
    assert client.get(f"{url}&download=1")["Content-Type"] == "application/zip"
    # The code works once.
    assert client.post(url, {"code": code, "t": token}).status_code == 400


def test_a_guests_right_code_after_a_wrong_one_leaves_a_page_without_the_error(client):
    """The download is a file: the page left on screen is the one the right code led to,
    which says the download is starting, not the form's page with the wrong code's error."""
    token, url = _guest_copy_ready()
    client.post(url, {"send": "1", "t": token})
    code = re.search(r"\b(\d{8})\b", mail.outbox[-1].body).group(1)
    client.post(url, {"code": "00000000", "t": token})

    response = client.post(url, {"code": code, "t": token})

    assert response.status_code == 302 and response["Location"] == url
    page = client.get(url).content.decode()
    assert "not right" not in page
    assert "Your download starts in a moment" in page
    (started,) = set(re.findall(r'href="([^"]+download=1)" data-download-now', page))
    download = client.get(started.replace("&amp;", "&"))
    assert download["Content-Type"] == "application/zip"
    assert b"".join(download.streaming_content).startswith(b"PK")
    # The right code's download starts once; then the page asks for a code again.
    again = client.get(started.replace("&amp;", "&"))
    assert again["Content-Type"].startswith("text/html")
    assert "Send me a code" in again.content.decode()


def test_a_guest_who_asked_twice_for_a_code_can_use_the_one_from_the_first_e_mail(client):
    token, url = _guest_copy_ready()

    client.post(url, {"send": "1", "t": token})  # a double click, or "send a new code"
    client.post(url, {"send": "1", "t": token})
    first, second = (re.search(r"\b(\d{8})\b", m.body).group(1) for m in mail.outbox[-2:])
    assert first != second

    assert client.post(url, {"code": first, "t": token}).status_code == 302
    assert client.get(f"{url}&download=1")["Content-Type"] == "application/zip"
    # Every code of that download is used up with it.
    assert client.post(url, {"code": second, "t": token}).status_code == 400


def test_asking_for_a_new_code_does_not_give_a_guesser_five_more_tries(client, redis_cache):
    """Five wrong codes lock the download's codes for the hour, also the codes sent after them:
    a guesser who asks for a new code each time gets no more tries (each would also e-mail
    the person)."""
    token, url = _guest_copy_ready()
    client.post(url, {"send": "1", "t": token})
    sent = len(mail.outbox)
    errors = [client.post(url, {"code": f"{i:08d}", "t": token}).content.decode() for i in range(5)]
    assert "not right" in errors[0] and "typed too often" in errors[-1]

    page = client.post(url, {"send": "1", "t": token}, follow=True).content.decode()
    assert "typed too often" in page and len(mail.outbox) == sent  # no code sent in vain
    code = re.search(r"\b(\d{8})\b", mail.outbox[-1].body).group(1)
    refused = client.post(url, {"code": code, "t": token})
    assert refused.status_code == 400 and "typed too often" in refused.content.decode()

    # An hour later the person asks for a new code and it works.
    cache.delete(f"dsr-download-code-attempts-{_guest_pk(url)}")
    client.post(url, {"send": "1", "t": token})
    code = re.search(r"\b(\d{8})\b", mail.outbox[-1].body).group(1)
    assert client.post(url, {"code": code, "t": token}).status_code == 302
    assert client.get(f"{url}&download=1")["Content-Type"] == "application/zip"


def _guest_pk(url: str) -> int:
    reference = url.split("/")[2]
    return DataSubjectRequest.objects.get(reference=reference).pk


def test_a_guests_status_link_does_not_download_their_copy_for_a_signed_in_stranger(
    customer,
):
    """The status link shows progress; the copy needs the code sent to the guest's address,
    whoever is signed in."""
    from dsr.notifications import status_token
    from dsr.services import dsr_request_approve, dsr_request_verify_manually

    created = file_request(type="access", email="guest@example.com", channel="portal_guest")
    created = dsr_request_verify_manually(
        request=created, actor=None, method="staff_callback", note="Called back"
    )
    created = run_pending_tasks(dsr_request_approve(request=created, actor=None))
    token = status_token(created)
    stranger = login(Client(), customer, reauthenticated=True)

    response = stranger.get(f"/requests/{created.reference}/download/?t={token}")

    assert response.status_code == 404
    assert ExportPackage.objects.get(request=created).download_count == 0
    assert not AuditEvent.objects.filter(action="dsr.package.downloaded").exists()


def test_request_intake_is_rate_limited(client, settings, redis_cache):
    settings.DSR_INTAKE_RATE = "3/h"
    codes = [
        client.post("/requests/new/", {"type": "access", "email": f"p{i}@example.com"}).status_code
        for i in range(5)
    ]
    assert codes[:3] == [302, 302, 302] and codes[3:] == [429, 429]
    assert DataSubjectRequest.objects.count() == 3


def test_opt_outs_are_counted_apart_from_the_other_requests(client, settings, redis_cache):
    """Others' requests from a shared address never keep anyone's marketing going."""
    settings.DSR_INTAKE_RATE, settings.DSR_OPT_OUT_RATE = "1/h", "2/h"
    assert (
        client.post("/requests/new/", {"type": "access", "email": "a@example.com"}).status_code
        == 302
    )
    refused = client.post("/requests/new/", {"type": "access", "email": "b@example.com"})
    assert refused.status_code == 429
    opt_outs = [
        client.post(
            "/requests/new/",
            {"type": "objection", "email": f"o{i}@example.com", "purposes": ["marketing_email"]},
        ).status_code
        for i in range(3)
    ]
    assert opt_outs == [302, 302, 429]
    stopped = DataSubjectRequest.objects.filter(type="objection").values_list("email", flat=True)
    assert sorted(stopped) == ["o0@example.com", "o1@example.com"]
    # An objection beyond direct marketing waits for its link: it counts as any request does.
    beyond = client.post(
        "/requests/new/",
        {"type": "objection", "email": "c@example.com", "purposes": ["statistics"]},
    )
    assert beyond.status_code == 429


def test_the_intake_limit_says_how_long_to_wait(client, settings, redis_cache):
    settings.DSR_INTAKE_RATE = "1/h"
    client.post("/requests/new/", {"type": "access", "email": "p@example.com"})
    refused = client.post(
        "/requests/new/",
        {"type": "rectification", "email": "q@example.com", "details": "My name is Quinn."},
    )
    assert refused.status_code == 429 and refused["Retry-After"] == "3600"
    page = refused.content.decode()
    assert "Please wait 60 minutes at most, then send it again." in page
    # What the person wrote comes back with it.
    assert 'value="q@example.com"' in page and "My name is Quinn." in page
    assert DataSubjectRequest.objects.count() == 1


def test_the_limit_per_e_mail_address_says_so_whatever_the_rates(client, settings, redis_cache):
    """Paused for the address, not for this browser, also when both limits are the same."""
    settings.DSR_INTAKE_RATE = settings.DSR_INTAKE_RATE_PER_EMAIL = "2/h"
    codes = [
        Client(REMOTE_ADDR=f"203.0.113.{i}")
        .post("/requests/new/", {"type": "access", "email": "one.inbox@example.com"})
        .status_code
        for i in range(1, 4)
    ]
    assert codes == [302, 302, 429]
    refused = Client(REMOTE_ADDR="203.0.113.9").post(
        "/requests/new/", {"type": "access", "email": "one.inbox@example.com"}
    )
    page = refused.content.decode()
    assert "sent for this e-mail address" in page and "sent from here" not in page


def test_forms_sent_back_for_a_typo_do_not_use_up_the_intake_limit(client, settings, redis_cache):
    settings.DSR_INTAKE_RATE = "2/h"
    typos = [
        client.post("/requests/new/", {"type": "access", "email": f"typo{i}"}).status_code
        for i in range(5)
    ]
    assert typos == [400] * 5
    filed = [
        client.post("/requests/new/", {"type": "access", "email": f"p{i}@example.com"})
        for i in range(3)
    ]
    assert [response.status_code for response in filed] == [302, 302, 429]


def test_a_signed_in_customer_has_an_intake_limit_of_their_own(
    client, customer_client, customer, settings, redis_cache
):
    """Guests behind the customer's address (a shared network) use up the address's
    requests, not the customer's: signed in, the limit counts per account."""
    settings.DSR_INTAKE_RATE = "2/h"
    guests = [
        client.post("/requests/new/", {"type": "access", "email": f"g{i}@example.com"})
        for i in range(3)
    ]
    assert [response.status_code for response in guests] == [302, 302, 429]
    customer_client = login(Client(), customer, reauthenticated=True)
    mine = [customer_client.post("/requests/new/", {"type": "access"}) for _ in range(3)]
    assert [response.status_code for response in mine] == [302, 302, 429]


def test_a_customer_cancels_before_anything_runs(customer_client, customer):
    created = file_request(type="erasure", user=customer)
    page = customer_client.get(f"/requests/{created.reference}/").content.decode()
    # A page of its own asks first, its buttons saying what each does (a browser's dialog
    # offers "OK" and "Cancel", where "Cancel" would keep the request).
    assert f'href="/requests/{created.reference}/cancel/"' in page
    asked = customer_client.get(f"/requests/{created.reference}/cancel/").content.decode()
    assert f"<h1>Cancel request {created.reference}?</h1>" in asked
    assert ">Cancel the request</button>" in asked
    assert f'href="/requests/{created.reference}/">Keep the request</a>' in asked
    created.refresh_from_db()
    assert created.state != State.CANCELLED  # asking changed nothing
    response = customer_client.post(f"/requests/{created.reference}/cancel/")
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.state == State.CANCELLED
    # Nothing left to cancel: the question leads back to the request.
    again = customer_client.get(f"/requests/{created.reference}/cancel/")
    assert again.status_code == 302 and again["Location"] == f"/requests/{created.reference}/"


def test_cancelling_a_completed_request_says_so_plainly(customer_client, customer):
    created = file_request(type="erasure", user=customer)
    DataSubjectRequest.objects.filter(pk=created.pk).update(state=State.COMPLETED)

    response = customer_client.post(f"/requests/{created.reference}/cancel/", follow=True)

    page = response.content.decode()
    assert "This request can no longer be cancelled: it has already been carried out." in page
    assert "cannot become" not in page
    created.refresh_from_db()
    assert created.state == State.COMPLETED


def test_support_records_a_phone_request_with_how_identity_was_checked(
    support_client, support_user
):
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {
            "type": "access",
            "channel": "phone",
            "email": "caller@example.com",
            "full_name": "Carl Caller",
            "identity_method": "staff_callback",
            "identity_note": "Called back the number on the last order",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = DataSubjectRequest.objects.get(email="caller@example.com")
    assert (created.channel, created.identity_method, created.recorded_by) == (
        "phone",
        "staff_callback",
        support_user,
    )


def test_support_is_told_in_staff_words_which_request_a_use_of_data_needs(support_client):
    """A withdrawal of consent for a use that rests on Inper's interests: support is told to
    record an objection, not the person's words ("your consent", "choose")."""
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {
            "type": "withdraw_consent",
            "channel": "phone",
            "email": "caller@example.com",
            "purposes": ["statistics"],
        },
    )
    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "does not rest on the person's consent" in page and "record an “Objection”" in page
    assert "your consent" not in page and "choose “" not in page
    assert not DataSubjectRequest.objects.exists()
    # Uses ticked for a request of another type are not its concern (and not kept).
    access = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {
            "type": "access",
            "channel": "phone",
            "email": "caller@example.com",
            "purposes": ["statistics"],
        },
    )
    assert access.status_code == 302
    assert DataSubjectRequest.objects.get(email="caller@example.com").purposes == []


def test_a_letter_read_days_later_is_recorded_as_received_that_day_and_due_from_it(
    support_client, compliance_client
):
    from dsr.deadlines import due_at

    day = timezone.localdate() - timedelta(days=5)
    form = {
        "type": "access",
        "channel": "post",
        "email": "letter@example.com",
        "full_name": "Lea Letter",
        "identity_method": "staff_document",
        "identity_note": "Signed letter with a copy of her ID card",
    }
    page = support_client.get("/admin/dsr/datasubjectrequest/add/").content.decode()
    assert f'max="{timezone.localdate().isoformat()}"' in page  # the picker offers no later day
    for wrong, said in (
        (timezone.localdate() + timedelta(days=1), "cannot be in the future"),
        (timezone.localdate() - timedelta(days=400), "within the last year"),
        ("5 days ago", "Enter a valid date."),
    ):
        refused = support_client.post(
            "/admin/dsr/datasubjectrequest/add/", {**form, "received_on": str(wrong)}
        )
        assert refused.status_code == 200 and said in refused.content.decode()
    assert not DataSubjectRequest.objects.filter(email="letter@example.com").exists()

    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/", {**form, "received_on": day.isoformat()}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = DataSubjectRequest.objects.get(email="letter@example.com")
    assert timezone.localdate(created.received_at) == day
    assert created.due_at == due_at(created.regime, created.received_at)
    page = compliance_client.get(f"/dashboard/requests/{created.reference}/").content.decode()
    assert "Request recorded; it was received on" in page
    # Only its day is known: no invented time of day.
    received = page.split("<dt>Received</dt>", 1)[1].split("</dd>", 1)[0]
    assert "its time is unknown" in received and "00:00" not in received
    assert "midnight" not in received and "12:00" not in received
    receipt = compliance_client.get(f"/dashboard/requests/{created.reference}/receipt/")
    assert "its time is unknown" in receipt.content.decode()
    # Filed today, its time is shown.
    today = file_request(type="access", email="today@example.com", channel="phone")
    page = compliance_client.get(f"/dashboard/requests/{today.reference}/").content.decode()
    assert "its time is unknown" not in page


def test_support_is_told_when_a_phone_request_is_a_duplicate_and_its_check_is_kept(
    support_client, compliance_client
):
    caller = {
        "type": "access",
        "channel": "phone",
        "email": "caller@example.com",
        "identity_method": "staff_callback",
        "identity_note": "Called back the number on the last order",
    }
    support_client.post("/admin/dsr/datasubjectrequest/add/", caller)
    original = DataSubjectRequest.objects.get(email="caller@example.com")

    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {**caller, "identity_note": "Asked for the order number again"},
        follow=True,
    )

    second = DataSubjectRequest.objects.exclude(pk=original.pk).get(email="caller@example.com")
    assert second.state == State.DUPLICATE and second.duplicate_of == original
    assert (second.identity_method, second.identity_note) == (
        "staff_callback",
        "Asked for the order number again",
    )
    page = response.content.decode()
    assert f"already has an open request of this kind, {original.reference}" in page
    # The officers' timeline says it in words, naming the original by its reference.
    timeline = compliance_client.get(f"/dashboard/requests/{second.reference}/").content.decode()
    assert "Recorded by staff in the admin" in timeline and "admin.added" not in timeline
    assert f"Duplicate of: {original.reference}" in timeline


def test_a_request_recorded_by_support_writes_to_the_person_in_their_language(
    support_client, django_capture_on_commit_callbacks
):
    """Staff rarely say which language the caller speaks: the e-mails follow the account with
    that address, or the language support chose."""
    UserFactory(email="kunde@example.com", preferred_language="de")
    with django_capture_on_commit_callbacks(execute=True):
        for email, language in (("kunde@example.com", ""), ("anrufer@example.com", "de")):
            response = support_client.post(
                "/admin/dsr/datasubjectrequest/add/",
                {"type": "access", "channel": "phone", "email": email, "language": language},
            )
            assert response.status_code == 302, response.content.decode()[:2000]

    for email in ("kunde@example.com", "anrufer@example.com"):
        assert DataSubjectRequest.objects.get(email=email).language == "de"
        confirmation = next(m for m in mail.outbox if m.to == [email] and "/verify/" in m.body)
        assert "Bitte bestätigen Sie" in confirmation.subject, confirmation.subject


def test_a_request_recorded_by_support_follows_the_law_of_the_accounts_country(support_client):
    """Support often leaves the country blank: the account with the address says where the
    person lives (a Californian's request is CCPA's, a Londoner's UK GDPR's)."""
    UserFactory(email="londoner@example.com", country="GB")
    UserFactory(email="californian@example.com", country="US")
    for email in ("londoner@example.com", "californian@example.com", "unknown@example.com"):
        response = support_client.post(
            "/admin/dsr/datasubjectrequest/add/",
            {"type": "rectification", "channel": "email", "email": email, "details": "Typo"},
        )
        assert response.status_code == 302, response.content.decode()[:2000]

    regimes = dict(DataSubjectRequest.objects.values_list("email", "regime"))
    assert regimes == {
        "londoner@example.com": "uk_gdpr",
        "californian@example.com": "ccpa",
        "unknown@example.com": "gdpr",
    }
    californian = DataSubjectRequest.objects.get(email="californian@example.com")
    assert (californian.due_at - californian.received_at).days == 45


@pytest.mark.parametrize(
    "note", ["\u200b", "\u200b\u200d\ufeff", "\u00a0\u2003\u3000", "\u2028\u2029\u2060 \t"]
)
def test_an_identity_note_of_invisible_characters_is_no_note(support_client, note):
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {
            "type": "access",
            "channel": "phone",
            "email": "caller@example.com",
            "identity_method": "staff_callback",
            "identity_note": note,
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    # Spaces only: no note; format characters: refused as such (they can disguise text).
    assert (
        "how you checked the person's identity" in html.unescape(page)
        or "Please remove invisible" in page
    )
    assert not DataSubjectRequest.objects.exists()


def test_an_identity_note_without_a_method_is_refused_not_dropped(support_client):
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {
            "type": "access",
            "channel": "phone",
            "email": "caller@example.com",
            "identity_method": "",
            "identity_note": "Called back the number on the last order",
        },
    )
    assert response.status_code == 200
    assert "Choose how you checked the person&#x27;s identity, or clear the note." in (
        response.content.decode()
    )
    assert not DataSubjectRequest.objects.exists()


def test_support_sees_requests_in_staff_words_not_the_customers(support_client, customer):
    waiting = file_request(type="erasure", email="x@example.com", channel="phone")
    done = run_pending_tasks(file_request(type="access", user=customer))
    assert (waiting.state, done.state) == (State.AWAITING_IDENTITY, State.COMPLETED)

    listing = support_client.get("/admin/dsr/datasubjectrequest/").content.decode()
    page = support_client.get(f"/admin/dsr/datasubjectrequest/{waiting.pk}/change/")
    for shown in (listing, page.content.decode()):
        assert "Awaiting identity" in shown and "Erasure" in shown
        assert "Waiting for you to confirm your e-mail" not in shown
        assert "delete my data" not in shown
    # What was recorded can be checked by whoever recorded it.
    assert "x@example.com" in page.content.decode()

    filtered = support_client.get("/admin/dsr/datasubjectrequest/", {"state": "awaiting_identity"})
    assert [r.reference for r in filtered.context["cl"].result_list] == [waiting.reference]
    filtered = support_client.get("/admin/dsr/datasubjectrequest/", {"type": "access"})
    assert [r.reference for r in filtered.context["cl"].result_list] == [done.reference]


def test_support_finds_a_request_of_someone_without_an_account_by_name(support_client):
    noah = file_request(
        type="erasure", email="nb@example.com", channel="phone", full_name="Noah Bröwn"
    )
    file_request(type="erasure", email="ob@example.com", channel="phone", full_name="Olivia Brandt")
    for term in ("Noah Brown", "bröwn", "NOAH", "nb@example.com", noah.reference):
        found = support_client.get("/admin/dsr/datasubjectrequest/", {"q": term}, follow=True)
        assert [r.reference for r in found.context["cl"].result_list] == [noah.reference], term


def test_a_closed_request_in_the_admin_names_its_outcome_and_who_recorded_it_in_german(
    support_client, support_user
):
    from django.utils.text import capfirst

    from dsr.services import dsr_request_reject

    support_user.first_name, support_user.last_name = "Sam", "Support"
    support_user.preferred_language = "de"
    support_user.save()
    recorded = file_request(
        type="erasure",
        email="caller@example.com",
        channel="phone",
        actor=support_user,
        identity_method="staff_callback",
        identity_note="Called back the number on the last order",
    )
    rejected = dsr_request_reject(request=recorded, actor=None, reason="unfounded")
    assert (rejected.outcome, rejected.verified_at is not None) == ("rejected", True)

    page = support_client.get(f"/admin/dsr/datasubjectrequest/{recorded.pk}/change/")

    fields = {
        str(capfirst(line.field["label"])): str(line.contents())
        for fieldset in page.context["adminform"]
        for row in fieldset
        for line in row
    }
    assert str(timezone.localdate().year) in fields["Identität bestätigt am"]
    assert fields["Ergebnis"] == "Abgelehnt"
    assert fields["Erfasst von"] == "Sam Support"
    assert fields["Duplikat von"] == "-"
    assert not {"Verified at", "Outcome", "Recorded by", "Duplicate of"} & set(fields)


def test_support_cannot_skip_the_identity_check_or_change_requests(support_client):
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {
            "type": "erasure",
            "channel": "phone",
            "email": "caller@example.com",
            "identity_method": "staff_callback",
            "identity_note": "",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    # Spaces only: no note; format characters: refused as such (they can disguise text).
    assert (
        "how you checked the person's identity" in html.unescape(page)
        or "Please remove invisible" in page
    )
    assert not DataSubjectRequest.objects.exists()
    created = file_request(type="erasure", email="x@example.com", channel="phone")
    assert (
        support_client.get(f"/admin/dsr/datasubjectrequest/{created.pk}/change/").status_code == 200
    )
    response = support_client.post(
        f"/admin/dsr/datasubjectrequest/{created.pk}/change/", {"state": "completed"}
    )
    assert response.status_code == 403
    created.refresh_from_db()
    assert created.state == State.AWAITING_IDENTITY


def test_a_guest_who_mistypes_the_order_number_is_asked_again_and_then_confirmed(
    client, django_capture_on_commit_callbacks
):
    """A typo must not send the request to an officer for days: an order number that matches
    nothing is said to, the link still works, and the right one confirms the request."""
    add_store(
        "orders",
        "tests.dsr.connectors.OrderBookConnector",
        identities=["email", "order_number"],
        config={"orders": {"typo@example.com": "INP-100007"}},
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/requests/new/",
            {"type": "erasure", "email": "typo@example.com", "understood": "on"},
        )
    link = _verify_link("typo@example.com")

    wrong = client.post(link, {"order_number": "INP-100070"})
    page = html.unescape(wrong.content.decode())
    assert wrong.status_code == 400
    assert "This is not the number of an order made with this e-mail address." in page
    assert "(2 more times at most)" in page and 'value="INP-100070"' in page
    request = DataSubjectRequest.objects.get(email="typo@example.com")
    assert request.state == State.AWAITING_IDENTITY and not request.snapshot()["order_numbers"]

    right = client.post(link, {"order_number": " INP-100007 "})
    assert right.status_code == 302
    request.refresh_from_db()
    assert request.identity_method == "email_and_knowledge" and request.held_reason == ""
    assert client.post(link, {"order_number": "INP-100007"}).status_code == 400  # used once


def test_a_guest_whose_order_numbers_all_match_nothing_goes_to_an_officer(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/requests/new/", {"type": "access", "email": "guess@example.com"})
    link = _verify_link("guess@example.com")
    codes = [client.post(link, {"order_number": f"INP-{n}"}).status_code for n in range(3)]
    assert codes == [400, 400, 302]
    request = DataSubjectRequest.objects.get(email="guess@example.com")
    assert request.state == State.IN_REVIEW and request.held_reason == "identity_needs_review"
    assert request.snapshot()["order_numbers"] == ["INP-2"]


def test_a_tampered_order_number_on_a_confirmation_page_that_asks_for_none_is_ignored(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/requests/new/", {"type": "restriction", "email": "tamper@example.com"})
    link = _verify_link("tamper@example.com")
    assert 'name="order_number"' not in client.get(link).content.decode()

    response = client.post(link, {"order_number": "bad\u202eorder" + "9" * 80})

    assert response.status_code == 302
    restriction = DataSubjectRequest.objects.get(email="tamper@example.com")
    assert restriction.state == State.IN_REVIEW and restriction.identity_method == "email_link"
    assert not restriction.snapshot().get("order_numbers")


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_line_and_paragraph_separators_in_the_details_become_line_breaks(customer, separator):
    client = login(Client(), customer, reauthenticated=True)
    details = f"My name is wrong.{separator}It should say Müller."

    response = client.post("/requests/new/", {"type": "rectification", "details": details})

    assert response.status_code == 302
    created = DataSubjectRequest.objects.get(user=customer)
    assert created.details == "My name is wrong.\nIt should say Müller."


def test_a_request_without_a_download_says_so_and_a_gone_copy_says_it_is_gone(customer):
    client = login(Client(), customer, reauthenticated=True)
    erasure = file_request(type="erasure", user=customer)
    response = client.get(f"/requests/{erasure.reference}/download/")
    assert response.status_code == 404
    assert "This request has no download." in response.content.decode()

    access = file_request(type="access", user=customer)
    response = client.get(f"/requests/{access.reference}/download/")
    page = response.content.decode()
    # Not an invalid link, nor a reason to file again: back to the request being made.
    assert response.status_code == 409 and "not ready yet" in page
    assert f'href="/requests/{access.reference}/"' in page
    assert "Link not valid" not in page and "start a new request" not in page

    access = run_pending_tasks(access)
    assert client.get(f"/requests/{access.reference}/download/").status_code == 200
    ExportPackage.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(f"/requests/{access.reference}/download/")
    assert response.status_code == 410
    assert "no longer available" in response.content.decode()


def test_a_guests_request_without_a_download_says_so(client):
    created = file_request(type="restriction", email="guest@example.com", channel="portal_guest")
    token = notifications.status_token(created)

    response = client.get(f"/requests/{created.reference}/download/code/?t={token}")

    assert response.status_code == 404
    page = response.content.decode()
    assert "This request has no download." in page
    assert f'href="/requests/{created.reference}/?t={token}"' in page


def test_a_copy_destroyed_by_an_erasure_before_it_was_made_is_gone(client):
    created = file_request(
        type="access",
        email="guest@example.com",
        channel="phone",
        identity_method="staff_callback",
        identity_note="Called back",
    )
    assert created.state == "running"  # its exports not run yet
    ExportPackage.objects.filter(request=created).update(purged_at=timezone.now())
    token = notifications.status_token(created)

    response = client.get(f"/requests/{created.reference}/download/code/?t={token}")

    assert response.status_code == 410
    assert "This download is no longer available." in response.content.decode()


def test_an_open_erasure_page_follows_the_request_after_the_account_is_gone(
    customer, compliance_user
):
    """The page of an erasure asked for while signed in polls, and redraws itself, by the
    signed link: once the erasure has removed the account and its session, the same page
    still learns that it completed and shows what was done, instead of "in progress" for good."""
    from dsr.services import dsr_request_approve

    client = login(Client(), customer, reauthenticated=True)
    client.post("/requests/new/", {"type": "erasure", "understood": "on"})
    erasure = DataSubjectRequest.objects.get(user=customer, type="erasure")
    page = client.get(f"/requests/{erasure.reference}/").content.decode()
    (progress,) = re.findall(r'data-progress-url="([^"]+)"', page)
    (redraw,) = re.findall(r'data-page-url="([^"]+)"', page)
    assert "?t=" in progress and "?t=" in redraw
    assert client.get(progress).json()["terminal"] is False

    run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user))
    assert not type(customer).objects.filter(pk=customer.pk).exists()
    assert client.get(f"/requests/{erasure.reference}/").status_code == 302  # signed out
    assert client.get(progress.replace("&amp;", "&")).json()["terminal"] is True
    done = client.get(redraw.replace("&amp;", "&"))
    shown = done.content.decode()
    assert done.status_code == 200 and "Completed" in shown
    assert "What we did" in shown and "records deleted" in shown
    assert "Your account was erased with the rest of your data, so you are signed out" in shown
    # Another request's page is not opened by it.
    other = file_request(type="access", user=UserFactory())
    stolen = redraw.replace(erasure.reference, other.reference).replace("&amp;", "&")
    assert client.get(stolen).status_code == 404


def test_an_erasures_e_mails_lead_to_the_persons_requests_once_the_account_is_gone(
    customer, compliance_user, django_capture_on_commit_callbacks
):
    """The acknowledgement's link follows the erasure after the account is gone, and the
    completion gives the links of the person's requests still open."""
    from dsr.services import dsr_request_approve

    client = login(Client(), customer, reauthenticated=True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/requests/new/", {"type": "rectification", "details": "My name is Ana."})
        client.post("/requests/new/", {"type": "erasure", "understood": "on"})
    erasure = DataSubjectRequest.objects.get(user=customer, type="erasure")
    correction = DataSubjectRequest.objects.get(user=customer, type="rectification")
    assert correction.state == State.IN_REVIEW
    received = next(m for m in mail.outbox if erasure.reference in m.body)
    with django_capture_on_commit_callbacks(execute=True):
        run_pending_tasks(dsr_request_approve(request=erasure, actor=compliance_user))
    done = mail.outbox[-1]
    assert "Your other requests that are still open" in done.body

    anonymous = Client()
    for message, reference in ((received, erasure.reference), (done, correction.reference)):
        (link,) = re.findall(rf"https?://[^/\s]+(/requests/{reference}/\?t=\S+)", message.body)
        page = anonymous.get(link)
        assert page.status_code == 200 and reference in page.content.decode()


def test_switching_language_on_a_guests_pages_keeps_the_status_link(client):
    """The status link's token comes back with the language switch: without it, the request's
    page and the download page are not found."""
    from dsr.services import dsr_request_approve, dsr_request_verify_manually

    created = file_request(type="access", email="guest@example.com", channel="portal_guest")
    created = dsr_request_verify_manually(
        request=created, actor=None, method="staff_callback", note="Called back"
    )
    created = run_pending_tasks(dsr_request_approve(request=created, actor=None))
    token = notifications.status_token(created)
    pages = (f"/requests/{created.reference}/", f"/requests/{created.reference}/download/code/")
    for path in pages:
        page = client.get(f"{path}?t={token}").content.decode()
        (back,) = re.findall(r'<input type="hidden" name="next" value="([^"]*)"', page)
        switched = client.post("/language/", {"language": "de", "next": back})
        assert switched.status_code == 302 and unquote(switched["Location"]) == f"{path}?t={token}"
        assert client.get(switched["Location"]).status_code == 200
    german = client.get(f"/requests/{created.reference}/?t={token}")
    assert german.status_code == 200 and 'lang="de"' in german.content.decode()


def test_switching_language_on_the_request_form_keeps_the_kind_chosen(client):
    page = client.get("/requests/new/?type=erasure").content.decode()
    (back,) = re.findall(r'<input type="hidden" name="next" value="([^"]*)"', page)
    assert back == "/requests/new/?type=erasure"


def test_the_pages_a_guests_e_mails_link_to_speak_the_e_mails_language(client):
    """The e-mail was German: its links open German pages, whatever the browser says,
    unless the person chose a language in this browser."""
    created = file_request(
        type="access", email="gast@example.com", channel="portal_guest", language="de"
    )
    token = notifications.status_token(created)
    page = client.get(f"/requests/{created.reference}/?t={token}", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="de"' in page.content.decode()

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(f"/requests/{created.reference}/?t={token}", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="en"' in page.content.decode()


def test_an_objection_without_a_use_ties_each_box_to_the_error(customer_client):
    """Focus goes to the first box: it reads the error out (not only the fieldset)."""
    import re

    response = customer_client.post("/requests/new/", {"type": "objection"})
    assert response.status_code == 400
    page = response.content.decode()
    boxes = re.findall(r'<input type="checkbox" name="purposes"[^>]*>', page)
    assert boxes and all(
        'aria-invalid="true"' in box and 'aria-describedby="id_purposes_error"' in box
        for box in boxes
    )
    assert re.search(r'id="id_purposes_error"[^>]*>.*Choose at least one use', page, re.S)


def test_the_request_pages_say_where_the_person_may_complain(customer_client, customer):
    """GDPR Art. 13(2)(d) and 15(1)(f): the right to complain to a supervisory authority, said
    where the person asks and where they follow their request, not only in a refusal."""
    page = customer_client.get("/requests/new/").content.decode()
    assert "complain to a data-protection supervisory authority" in page
    created = file_request(type="access", user=customer)
    page = customer_client.get(f"/requests/{created.reference}/").content.decode()
    assert "right to lodge a complaint with a data-protection supervisory authority" in page


def test_a_request_recorded_after_its_deadline_warns_support_and_names_who_checked(
    support_client, support_user, compliance_client, django_capture_on_commit_callbacks
):
    """A letter found weeks late: support is told at once that it is overdue, and the person
    is not given a deadline that has passed; the officer's page says how the identity was
    checked, by whom, and what was checked."""
    day = timezone.localdate() - timedelta(days=40)
    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(
            "/admin/dsr/datasubjectrequest/add/",
            {
                "type": "access",
                "channel": "post",
                "email": "late.letter@example.com",
                "full_name": "Lea Late",
                "received_on": day.isoformat(),
                "identity_method": "staff_document",
                "identity_note": "Signed letter with a copy of her ID card",
            },
            follow=True,
        )
    created = DataSubjectRequest.objects.get(email="late.letter@example.com")
    (acknowledged,) = [m for m in mail.outbox if m.to == ["late.letter@example.com"]]
    assert "we are late in answering it: we are sorry" in acknowledged.body
    assert "We will answer by" not in acknowledged.body
    page = response.content.decode()
    assert "so it is already overdue: tell a compliance officer today." in page
    assert date_format(timezone.localtime(created.due_at), "DATE_FORMAT") in page

    page = compliance_client.get(f"/dashboard/requests/{created.reference}/").content.decode()
    identity = page.split(">Identity</h3>", 1)[1].split("</dl>", 1)[0]
    assert "How it was checked" in identity and created.get_identity_method_display() in identity
    name = f"{support_user.first_name} {support_user.last_name}".strip() or support_user.email
    assert re.search(rf"Checked by</dt><dd>{re.escape(name)}</dd>", identity)
    assert "Signed letter with a copy of her ID card" in identity

    # Recorded today: no warning.
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {"type": "access", "channel": "phone", "email": "on.time@example.com"},
        follow=True,
    )
    assert "already overdue" not in response.content.decode()


def test_the_officer_who_checks_an_identity_by_hand_is_named_as_its_checker(
    compliance_client, compliance_user
):
    guest = file_request(type="access", email="guest.checked@example.com", user=None)
    response = compliance_client.post(
        f"/dashboard/requests/{guest.reference}/verify/",
        {"verify-method": "staff_callback", "verify-note": "Called back the number on file"},
        follow=True,
    )
    page = response.content.decode()
    identity = page.split(">Identity</h3>", 1)[1].split("</dl>", 1)[0]
    name = f"{compliance_user.first_name} {compliance_user.last_name}".strip()
    assert re.search(
        rf"Checked by</dt><dd>{re.escape(name or compliance_user.email)}</dd>", identity
    )


def test_a_second_correction_that_says_something_else_is_read_with_the_first(
    customer, mailoutbox, django_capture_on_commit_callbacks
):
    from privacy_portal.permissions import COMPLIANCE_GROUP
    from tests.factories import StaffFactory

    client = login(Client(), customer, reauthenticated=True)
    client.post("/requests/new/", {"type": "rectification", "details": "My name is O'Brien."})
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(
            "/requests/new/", {"type": "rectification", "details": "My phone is +49 30 7654321."}
        )
    original = DataSubjectRequest.objects.get(user=customer, duplicate_of__isnull=True)
    linked = DataSubjectRequest.objects.get(duplicate_of=original)
    said = "what you wrote in this one is read together with the earlier one"
    assert said in client.get(second["Location"]).content.decode()
    told = mailoutbox[-1]
    assert told.to == [customer.email] and linked.reference in told.body
    assert said in told.body and "from you while" in told.body
    assert "from this e-mail address" not in told.body
    # The officer working on the first reads what the second asks.
    officer = login(Client(), StaffFactory(group=COMPLIANCE_GROUP), mfa=True)
    page = officer.get(f"/dashboard/requests/{original.reference}/").content.decode()
    assert linked.reference in page and "+49 30 7654321" in page


def test_a_reference_typed_in_lower_case_leads_to_the_request(customer_client, customer):
    created = file_request(type="rectification", user=customer, details="My name")
    typed = created.reference.lower()
    response = customer_client.get(f"/requests/{typed}/?from=mail", follow=True)
    assert response.redirect_chain[-1][0] == f"/requests/{created.reference}/?from=mail"
    assert created.reference in response.content.decode()
    # So does an officer's.
    from privacy_portal.permissions import COMPLIANCE_GROUP
    from tests.factories import StaffFactory

    officer = login(Client(), StaffFactory(group=COMPLIANCE_GROUP), mfa=True)
    response = officer.get(f"/dashboard/requests/{typed}/", follow=True)
    assert response.redirect_chain[-1][0] == f"/dashboard/requests/{created.reference}/"
    # And the page that asks whether to cancel it.
    response = customer_client.get(f"/requests/{typed}/cancel/", follow=True)
    assert response.redirect_chain[-1][0] == f"/requests/{created.reference}/cancel/"
    assert "Cancel the request" in response.content.decode()
    # Another customer's reference, typed so, is as unknown as written right.
    other = file_request(type="rectification", user=UserFactory(), details="Mine")
    response = customer_client.get(f"/requests/{other.reference.lower()}/", follow=True)
    assert response.status_code == 404


def test_the_language_switch_comes_back_to_what_the_link_chose(client):
    """ "Stop marketing" links to the form with every marketing use ticked: switching the
    language keeps them ticked (and takes nothing else of the address along)."""
    page = client.get("/requests/new/?type=objection&marketing=all&email=x@example.com")
    back = re.search(r'name="next" value="([^"]*)"', page.content.decode()).group(1)
    back = html.unescape(back)
    assert back == "/requests/new/?type=objection&marketing=all"
    switched = client.post("/language/", {"language": "de", "next": back}, follow=True)
    assert switched.redirect_chain[-1][0] == back
    ticked = set(
        re.findall(r'name="purposes" value="(\w+)"[^>]*checked', switched.content.decode())
    )
    assert {"marketing_email", "marketing_sms", "marketing_post"} <= ticked


def test_an_erasure_is_sent_only_when_its_finality_is_understood(client):
    """As closing the account asks: what an erasure deletes cannot be restored."""
    page = client.get("/requests/new/?type=erasure").content.decode()
    assert "I understand that an erasure cannot be undone." in page
    refused = client.post("/requests/new/", {"type": "erasure", "email": "e@example.com"})
    assert refused.status_code == 400
    assert "Tick the box to confirm that you understand an erasure cannot be undone." in (
        html.unescape(refused.content.decode())
    )
    assert not DataSubjectRequest.objects.exists()
    sent = client.post(
        "/requests/new/", {"type": "erasure", "email": "e@example.com", "understood": "on"}
    )
    assert sent.status_code == 302 and DataSubjectRequest.objects.get().type == "erasure"
    # Other requests do not ask.
    assert (
        client.post("/requests/new/", {"type": "access", "email": "a@example.com"}).status_code
        == 302
    )
