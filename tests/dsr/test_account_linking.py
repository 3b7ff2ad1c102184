"""Requests that belong to a customer's account but were filed without signing in: a guest's
request for the account's address, confirmed by the e-mailed link, and one that support
recorded with how they checked who the caller is. Each is linked to the account once its
identity is established, and only to the account whose own verified address it names; the
guest reads the same pages and e-mails whether or not an account exists."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client

from dsr import notifications
from dsr.models import OPEN_STATES, DataSubjectRequest, State
from dsr.services import ORDER_NUMBER_TRIES, dsr_request_approve, dsr_request_verify_manually
from privacy_portal.audit.models import AuditEvent
from tests.conftest import login
from tests.dsr.helpers import file_request, run_pending_tasks
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LINKED = "dsr.request.linked_to_account"


def _guest_files(client: Client, capture: Any, email: str, **fields: str) -> DataSubjectRequest:
    with capture(execute=True):
        response = client.post("/requests/new/", {"type": "restriction", "email": email, **fields})
    assert response.status_code == 302, response.content.decode()[:2000]
    return DataSubjectRequest.objects.filter(email=email.lower()).latest("pk")


def _verify_link(email: str) -> str:
    message = next(
        m
        for m in reversed(mail.outbox)
        if m.to == [email.lower()] and "/requests/verify/" in m.body
    )
    match = re.search(r"https?://[^/\s]+(/requests/verify/[^\s]+/)", message.body)
    assert match
    return match.group(1)


def _confirm(client: Client, capture: Any, email: str, **data: str) -> Any:
    with capture(execute=True):
        return client.post(_verify_link(email), data)


def _confirm_unmatched(client: Client, capture: Any, email: str, order_number: str) -> None:
    """Type an order number that matches nothing as often as the link takes one: then the
    request goes to an officer."""
    for _ in range(ORDER_NUMBER_TRIES):
        response = _confirm(client, capture, email, order_number=order_number)
    assert response.status_code == 302


def _linked_events(request: DataSubjectRequest) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=LINKED, object_id=str(request.pk)))


def _requests_page(client: Client) -> str:
    """The person's own requests on their list (not those made with their address by someone
    not signed in, listed below them)."""
    return client.get("/requests/").content.decode().split('id="by-email-heading"')[0]


def _made_with_the_address(client: Client) -> str:
    """The list's part for requests made with the account's address without signing in."""
    page = client.get("/requests/").content.decode()
    return page.split('id="by-email-heading"')[1] if 'id="by-email-heading"' in page else ""


def test_a_guests_request_for_an_account_address_is_the_customers_once_confirmed(
    client, customer, other_customer, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    # Typed as the guest types it: the portal compares addresses regardless of case.
    typed = customer.email.upper()
    created = _guest_files(client, capture, typed, full_name="Alice Customer")
    mine, theirs = login(Client(), customer), login(Client(), other_customer)

    # Until the link is confirmed, anyone could have typed the address: not hers. Her list
    # names it (what she holds in "My data" counts it), as made with her address.
    assert created.user_id is None
    assert created.reference not in _requests_page(mine)
    assert created.reference in _made_with_the_address(mine)
    assert created.reference not in _made_with_the_address(theirs)
    assert mine.get(f"/requests/{created.reference}/").status_code == 404

    response = _confirm(client, capture, typed)

    created.refresh_from_db()
    assert created.state == State.IN_REVIEW and created.user_id == customer.pk
    page = _requests_page(mine)
    assert created.reference in page and "Restriction" in page
    assert created.reference not in _made_with_the_address(mine)
    detail = mine.get(f"/requests/{created.reference}/")
    assert detail.status_code == 200
    assert created.reference in detail.content.decode()
    assert "My privacy requests" in detail.content.decode()  # her own, in her account
    # Another customer sees nothing of it.
    assert created.reference not in _requests_page(theirs)
    assert theirs.get(f"/requests/{created.reference}/").status_code == 404
    assert theirs.get(f"/requests/{created.reference}/progress/").status_code == 404
    # The guest's signed link still follows it.
    assert response["Location"].startswith(f"/requests/{created.reference}/?t=")
    assert created.reference in Client().get(response["Location"]).content.decode()
    # Audited, with ids and codes only.
    [event] = _linked_events(created)
    assert event.actor_id is None and event.actor_type == "system"
    assert event.after == {"account": customer.pk, "identity_method": "email_link"}
    recorded = json.dumps([event.before, event.after, event.reason]).lower()
    assert customer.email not in recorded and "alice" not in recorded


def test_a_request_support_records_with_an_identity_check_is_the_customers(
    support_client, support_user, compliance_client, customer, other_customer
):
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {
            "type": "restriction",
            "channel": "phone",
            "email": customer.email,
            "identity_method": "staff_callback",
            "identity_note": "Called back the number on her last order",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = DataSubjectRequest.objects.get(email=customer.email)

    assert created.user_id == customer.pk
    assert created.reference in _requests_page(login(Client(), customer))
    assert created.reference not in _requests_page(login(Client(), other_customer))
    [event] = _linked_events(created)
    assert event.actor_id == support_user.pk
    assert event.after == {"account": customer.pk, "identity_method": "staff_callback"}
    # The officer sees whose account it is, and when it was linked.
    page = compliance_client.get(f"/dashboard/requests/{created.reference}/").content.decode()
    assert f"customer account {customer.pk}" in page
    assert "Linked to the customer&#x27;s account" in page


def test_support_recording_a_customers_request_unchecked_is_told_it_waits_for_them(
    support_client, customer
):
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {"type": "access", "channel": "phone", "email": customer.email.upper()},
        follow=True,
    )
    created = DataSubjectRequest.objects.get(email__iexact=customer.email)
    assert created.state == "awaiting_identity" and created.user_id is None
    shown = [str(message) for message in response.context["messages"]]
    assert any("This address belongs to a customer account." in m for m in shown), shown

    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {"type": "access", "channel": "phone", "email": "nobody.known@example.com"},
        follow=True,
    )
    shown = [str(message) for message in response.context["messages"]]
    assert not any("customer account" in m for m in shown), shown


def test_a_guest_held_for_an_unmatched_order_number_is_linked_once_an_officer_checked(
    client, customer, compliance_user, django_capture_on_commit_callbacks
):
    """The e-mail was confirmed but the order number matched nothing: the identity is not
    established until an officer checked it."""
    capture = django_capture_on_commit_callbacks
    created = _guest_files(client, capture, customer.email, type="erasure", understood="on")
    _confirm_unmatched(client, capture, customer.email, "NOT-HERS")
    created.refresh_from_db()
    assert created.held_reason == "identity_needs_review" and created.user_id is None

    dsr_request_verify_manually(
        request=created, actor=compliance_user, method="staff_document", note="Passport seen"
    )

    created.refresh_from_db()
    assert created.user_id == customer.pk
    [event] = _linked_events(created)
    assert event.actor_id == compliance_user.pk


def test_the_account_holders_own_request_replaces_a_guests_held_for_an_identity_check(
    client, customer, django_capture_on_commit_callbacks
):
    """Filed first without signing in, with an order number that matched nothing: the same
    request filed signed in (re-authenticated) is not made to wait behind it as its duplicate.
    It goes on, listed on the customer's page, and the held one is closed as its duplicate."""
    capture = django_capture_on_commit_callbacks
    guest = _guest_files(client, capture, customer.email, type="access")
    _confirm_unmatched(client, capture, customer.email, "NOT-HIS")
    guest.refresh_from_db()
    assert guest.state == State.IN_REVIEW and guest.held_reason == "identity_needs_review"

    own = file_request(type="access", user=customer)

    guest.refresh_from_db()
    assert own.state not in (State.DUPLICATE, State.IN_REVIEW) and own.duplicate_of_id is None
    assert guest.state == State.DUPLICATE and guest.duplicate_of_id == own.pk
    page = _requests_page(login(Client(), customer))
    assert own.reference in page and guest.reference not in page


@pytest.mark.parametrize(
    "case", ["never_confirmed", "address_unverified", "account_closed", "opt_out", "other_address"]
)
def test_no_link_without_an_established_identity_and_the_accounts_verified_address(
    client, case, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    account = UserFactory(email="holder@example.com", verified=case != "address_unverified")
    if case == "account_closed":
        account.is_active = False
        account.save(update_fields=["is_active"])
    if case == "opt_out":
        # Needs no identity check, so it establishes none.
        created = _guest_files(
            client,
            capture,
            account.email,
            type="withdraw_consent",
            purposes=["marketing_sms"],
        )
        assert created.state == State.COMPLETED
    elif case == "other_address":
        # A second address of the account, even verified, is not the account's own: a
        # request for it would not be the same subject as the account's own requests.
        from allauth.account.models import EmailAddress

        EmailAddress.objects.create(
            user=account, email="second@example.com", verified=True, primary=False
        )
        created = _guest_files(client, capture, "second@example.com")
        _confirm(client, capture, "second@example.com")
    else:
        created = _guest_files(client, capture, account.email)
        if case != "never_confirmed":
            _confirm(client, capture, account.email)

    created.refresh_from_db()
    assert created.user_id is None
    assert not _linked_events(created)
    assert created.reference not in _requests_page(login(Client(), account))
    if case in ("never_confirmed", "opt_out"):
        # Made with the account's own verified address: named below the account's requests.
        assert created.reference in _made_with_the_address(login(Client(), account))
    elif case in ("address_unverified", "other_address"):
        # An address the account never proved, or not the one its requests are made with.
        assert created.reference not in _made_with_the_address(login(Client(), account))


def test_requests_made_with_an_earlier_address_are_named_until_another_account_proves_it(
    client, django_capture_on_commit_callbacks
):
    from allauth.account.models import EmailAddress

    from accounts.models import FormerEmail

    capture = django_capture_on_commit_callbacks
    account = UserFactory(email="now@example.com")
    FormerEmail.objects.create(user=account, email="before@example.com")
    earlier = _guest_files(client, capture, "before@example.com")
    stranger = _guest_files(client, capture, "someone-else@example.com")
    holder = login(Client(), account)

    listed = _made_with_the_address(holder)
    assert earlier.reference in listed and stranger.reference not in listed
    assert "Restriction" in listed and "nobody confirms is closed after 7 days" in listed
    assert holder.get(f"/requests/{earlier.reference}/").status_code == 404

    # The address came to someone else, who proved it: its requests are theirs to see.
    newcomer = UserFactory(email="before@example.com")
    assert EmailAddress.objects.filter(user=newcomer, verified=True).exists()
    assert earlier.reference not in _made_with_the_address(holder)
    assert earlier.reference in _made_with_the_address(login(Client(), newcomer))


def _normalised(text: str, email: str) -> str:
    """``text`` without what differs between two requests by nature: references, signed
    tokens, form keys, times and the address itself."""
    text = text.replace(email, "ADDRESS").replace(email.upper(), "ADDRESS")
    text = re.sub(r"DSR-\d{4}-\d{6}", "REF", text)
    text = re.sub(r"/requests/verify/[^/\s\"]+/", "/requests/verify/TOKEN/", text)
    text = re.sub(r"t=[\w:\-]+", "t=TOKEN", text)
    text = re.sub(r'name="(csrfmiddlewaretoken|t)" value="[^"]*"', r'name="\1"', text)
    text = re.sub(r'data-csrf="[^"]*"', "", text)
    text = re.sub(r'nonce="[^"]*"', "", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2}T[\d:.+\-]+Z?", "ISO", text)
    return re.sub(r"\d{1,2}(:\d{2})?\s?[ap]\.m\.|noon|midnight", "TIME", text)


def _what_the_guest_reads(email: str, capture: Any) -> list[str]:
    """Everything a guest reads who asks for a restriction for ``email``, confirms it, asks
    again while it is open, and sees it carried out: the pages and the e-mails to them."""
    mail.outbox.clear()
    client = Client()
    pages = []
    with capture(execute=True):
        response = client.post(
            "/requests/new/", {"type": "restriction", "email": email, "full_name": "Sam Guest"}
        )
    pages.append(client.get(response["Location"]).content.decode())
    link = _verify_link(email)
    pages.append(client.get(link).content.decode())
    response = _confirm(client, capture, email)
    status = response["Location"]
    pages.append(client.get(status).content.decode())
    created = DataSubjectRequest.objects.get(reference=status.split("/")[2])

    # Asked again while the first is open: a duplicate, which points to the first.
    with capture(execute=True):
        response = client.post("/requests/new/", {"type": "restriction", "email": email})
    duplicate = DataSubjectRequest.objects.filter(email=email).latest("pk")
    assert duplicate.state == State.DUPLICATE and duplicate.duplicate_of_id == created.pk
    letter = next(m for m in mail.outbox if duplicate.reference in m.body).body
    duplicate_url = re.search(r"https?://[^/\s]+(/requests/\S+)", letter).group(1)
    page = client.get(duplicate_url).content.decode()
    assert "Follow your earlier request" in page
    pages.append(page)

    with capture(execute=True):
        run_pending_tasks(dsr_request_approve(request=created, actor=None))
    pages.append(client.get(status).content.decode())
    letters = [
        "\n".join([m.subject, m.body, *(alt for alt, _type in m.alternatives)])
        for m in mail.outbox
        if m.to == [email]
    ]
    assert len(letters) >= 4  # acknowledgement, confirmation link, duplicate, completion
    return [_normalised(text, email) for text in pages + letters]


def test_the_guest_reads_the_same_whether_or_not_the_address_has_an_account(
    django_capture_on_commit_callbacks,
):
    """Never reveal whether an account exists: every page and e-mail the guest gets reads
    the same, for an account's address as for an unknown one."""
    account = UserFactory(email="known@example.com", first_name="Kim")

    known = _what_the_guest_reads(account.email, django_capture_on_commit_callbacks)
    unknown = _what_the_guest_reads("unknown@example.com", django_capture_on_commit_callbacks)

    assert DataSubjectRequest.objects.filter(user=account, type="restriction").count() == 1
    assert known == unknown


def test_a_linked_request_still_makes_the_customers_own_request_a_duplicate(
    client, customer, django_capture_on_commit_callbacks
):
    """One open request per person and type, whichever way each came in."""
    capture = django_capture_on_commit_callbacks
    linked = _guest_files(client, capture, customer.email.title())
    _confirm(client, capture, customer.email.title())
    linked.refresh_from_db()
    assert linked.user_id == customer.pk and linked.state == State.IN_REVIEW

    mine = login(Client(), customer, reauthenticated=True)
    with capture(execute=True):
        response = mine.post("/requests/new/", {"type": "restriction"})
    own = DataSubjectRequest.objects.filter(user=customer).latest("pk")

    assert own.state == State.DUPLICATE and own.duplicate_of_id == linked.pk
    page = mine.get(response["Location"]).content.decode()
    assert f"Follow your earlier request {linked.reference}" in page
    open_ones = DataSubjectRequest.objects.filter(
        subject_key=linked.subject_key, type="restriction", state__in=OPEN_STATES
    )
    assert list(open_ones) == [linked]
    # The database itself refuses a second open one.
    with pytest.raises(IntegrityError), transaction.atomic():
        DataSubjectRequest.objects.filter(pk=own.pk).update(
            state=State.IN_REVIEW, duplicate_of=None
        )


def test_the_account_holder_downloads_a_linked_copy_only_after_confirming_the_password(
    support_client, customer, other_customer
):
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {
            "type": "access",
            "channel": "in_person",
            "email": customer.email,
            "identity_method": "staff_in_person",
            "identity_note": "Met her at the trade show, checked her ID card",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = run_pending_tasks(DataSubjectRequest.objects.get(email=customer.email))
    assert created.state == State.COMPLETED and created.user_id == customer.pk
    url = f"/requests/{created.reference}/download/"

    page = login(Client(), customer).get(f"/requests/{created.reference}/").content.decode()
    assert f'href="{url}"' in page
    response = login(Client(), customer).get(url)
    assert response.status_code == 302 and "/reauthenticate/" in response["Location"]
    assert login(Client(), other_customer, reauthenticated=True).get(url).status_code == 404
    # Signed in, she does not take the guest's way round the password.
    code_page = f"/requests/{created.reference}/download/code/"
    assert login(Client(), customer).post(code_page, {"send": "1"}).status_code == 404
    # The e-mailed link opened signed in leads to her download, behind the password.
    token = notifications.status_token(created)
    by_link = login(Client(), customer).get(f"{code_page}?t={token}")
    assert by_link.status_code == 302 and by_link["Location"] == url
    assert login(Client(), other_customer).get(f"{code_page}?t={token}").status_code == 200

    # The e-mailed link still leads to the copy by a code sent to the address, as for anyone
    # without an account: the e-mails must not tell whether there is one.
    by_link = Client().get(f"{code_page}?t={token}")
    assert by_link.status_code == 200 and "Send me a code" in by_link.content.decode()

    response = login(Client(), customer, reauthenticated=True).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    b"".join(response.streaming_content)
    download = AuditEvent.objects.get(
        action="dsr.package.downloaded", scope=f"dsr.datasubjectrequest:{created.pk}"
    )
    assert download.actor_id == customer.pk


def test_a_name_given_to_support_that_is_not_the_account_holders_is_shown_to_the_officer(
    support_client,
    compliance_client,
    customer,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(
            "/admin/dsr/datasubjectrequest/add/",
            {
                "type": "erasure",
                "channel": "in_person",
                "email": customer.email,
                "full_name": "Zoë Núñez",
                "identity_method": "staff_in_person",
                "identity_note": "Met at the booth, ID card seen",
            },
            follow=True,
        )
    created = DataSubjectRequest.objects.get(email=customer.email)
    assert created.user_id == customer.pk
    holder = f"{customer.first_name} {customer.last_name}"
    shown = [str(message) for message in response.context["messages"]]
    assert any("The name given, Zoë Núñez, is not the name" in m and holder in m for m in shown)
    page = compliance_client.get(f"/dashboard/requests/{created.reference}/").content.decode()
    assert "Account holder" in page and holder in page
    assert "not the name given" in page
    # The e-mails go to the account's address: they greet its holder, not the name given.
    created.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.extended(created)
    told = [m for m in mailoutbox if m.to == [customer.email]]
    assert len(told) >= 2 and f"Hello {customer.first_name}," in told[-1].body
    assert not any("Zoë" in m.body for m in told)


@pytest.mark.parametrize(
    "given", ["{first} {last}", "{last}, {first} Maria", "{first_upper} {last_plain}"]
)
def test_the_account_holders_own_name_in_another_form_raises_no_warning(customer, given):
    from dsr.identity import account_name_differs

    customer.first_name, customer.last_name = "Chloé", "Martin-Dubois"
    customer.save()
    request = file_request(
        type="access",
        user=customer,
        full_name=given.format(
            first="Chloé",
            last="Martin-Dubois",
            first_upper="CHLOE",
            last_plain="martin dubois",
        ),
    )
    assert account_name_differs(request) == ""


def test_a_duplicate_support_records_under_another_name_is_flagged_too(
    support_client, compliance_client, customer
):
    first = file_request(type="restriction", user=customer)
    response = support_client.post(
        "/admin/dsr/datasubjectrequest/add/",
        {
            "type": "restriction",
            "channel": "phone",
            "email": customer.email,
            "full_name": "Jean Dupont",
            "identity_method": "staff_callback",
            "identity_note": "Called back the number on file",
        },
        follow=True,
    )
    duplicate = DataSubjectRequest.objects.get(duplicate_of=first)
    shown = [str(message) for message in response.context["messages"]]
    assert any("The name given, Jean Dupont, is not the name" in m for m in shown), shown
    page = compliance_client.get(f"/dashboard/requests/{first.reference}/").content.decode()
    linked = page.split("Linked to this request")[1].split("</section>")[0]
    assert duplicate.reference in linked and "name given: Jean Dupont" in linked
