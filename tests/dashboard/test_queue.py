"""The queue: filters, search without e-mails in URLs, urgency, assignment, bounded queries."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dsr.models import DataSubjectRequest, State
from privacy_portal.audit.models import AuditEvent
from privacy_portal.permissions import COMPLIANCE_GROUP
from tests.conftest import login
from tests.dashboard.conftest import due_in
from tests.dsr.helpers import add_store, file_request, run_pending_tasks
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _refs(response):
    return {row[0].reference for row in response.context["rows"]}


def test_the_queue_shows_open_requests_most_urgent_first_with_counts(
    compliance_client, erasure, guest_access, completed_access
):
    due_in(erasure, 3)
    due_in(guest_access, -1)

    response = compliance_client.get("/dashboard/")

    assert response.status_code == 200
    assert [row[0].reference for row in response.context["rows"]] == [
        guest_access.reference,
        erasure.reference,
    ]
    assert [urgency for _, urgency in response.context["rows"]] == ["overdue", "soon"]
    counts = response.context["counts"]
    assert (counts.open, counts.overdue, counts.due_soon) == (2, 1, 1)
    assert counts.by_state[State.COMPLETED] == 1
    page = response.content.decode()
    assert "overdue" in page and "due soon" in page
    # The queue itself shows no personal data.
    assert erasure.email not in page and guest_access.email not in page
    # Dates with the month's name: 02/12/2026 is read as 2 December or as 12 February.
    due = timezone.localtime(erasure.due_at)
    assert f">{due.day} {due:%b} {due.year}</time>" in page
    assert f"{due:%m}/{due:%d}/{due.year}" not in page


def test_a_request_page_is_in_the_requests_section_not_the_queue_itself(compliance_client, erasure):
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    assert re.search(r'<a href="/dashboard/" aria-current="true">Requests</a>', page)
    queue = compliance_client.get("/dashboard/").content.decode()
    assert re.search(r'<a href="/dashboard/" aria-current="page">Requests</a>', queue)


def test_a_request_whose_clock_is_paused_is_neither_overdue_nor_due(
    compliance_client, guest_access
):
    # UK GDPR: the clock stops while the person's identity is awaited; the deadline moves
    # only when it restarts, so the deadline stored meanwhile is not one the law sets.
    DataSubjectRequest.objects.filter(pk=guest_access.pk).update(
        clock_paused_at=timezone.now() - timedelta(days=40)
    )
    due_in(guest_access, -5)

    response = compliance_client.get("/dashboard/")

    assert [urgency for _, urgency in response.context["rows"]] == ["paused"]
    counts = response.context["counts"]
    assert (counts.overdue, counts.due_soon) == (0, 0)
    assert "clock paused" in response.content.decode()
    assert _refs(compliance_client.get("/dashboard/", {"due": "overdue"})) == set()
    detail = compliance_client.get(f"/dashboard/requests/{guest_access.reference}/")
    assert "clock paused until the identity is confirmed" in detail.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"type": "erasure"}, {"erasure"}),
        ({"type": "access"}, {"guest"}),
        ({"status": "awaiting_identity"}, {"guest"}),
        ({"status": "all"}, {"erasure", "guest", "done"}),
        ({"status": "completed"}, {"done"}),
        ({"channel": "portal_guest"}, {"guest"}),
        ({"regime": "ccpa"}, set()),
        ({"due": "overdue"}, {"guest"}),
        ({"due": "7d"}, {"erasure"}),
        ({"assignee": "none"}, {"erasure", "guest"}),
        ({"assignee": "me"}, set()),
        ({"failed": "on", "status": "all"}, set()),
        ({"status": "nonsense", "type": "erasure"}, {"erasure"}),
    ],
)
def test_filters(compliance_client, erasure, guest_access, completed_access, query, expected):
    due_in(erasure, 3)
    due_in(guest_access, -1)
    names = {"erasure": erasure, "guest": guest_access, "done": completed_access}
    response = compliance_client.get("/dashboard/", query)
    assert response.status_code == 200
    assert _refs(response) == {names[name].reference for name in expected}


def test_the_failed_filter_finds_requests_with_a_failed_store_task(compliance_client, customer):
    add_store(
        "flaky",
        "tests.dsr.connectors.FlakyConnector",
        config={"fail_times": 1, "permanent": True},
    )

    failed = run_pending_tasks(file_request(type="access", user=customer))
    assert failed.state == State.WAITING  # held for the officer

    response = compliance_client.get("/dashboard/", {"failed": "on"})
    assert _refs(response) == {failed.reference}
    assert response.context["counts"].failed == 1
    assert "task failed" in response.content.decode()


def test_sorting(compliance_client, erasure, guest_access):
    due_in(erasure, 10)
    due_in(guest_access, 20)
    by_due = compliance_client.get("/dashboard/", {"sort": "-due"}).context["rows"]
    assert [row[0].pk for row in by_due] == [guest_access.pk, erasure.pk]
    by_reference = compliance_client.get("/dashboard/", {"sort": "reference"}).context["rows"]
    assert [row[0].reference for row in by_reference] == sorted(
        [erasure.reference, guest_access.reference]
    )


def test_searching_by_e_mail_keeps_the_address_out_of_every_url(
    compliance_client, erasure, guest_access
):
    response = compliance_client.post("/dashboard/search/", {"term": "  Guest.Person@Example.com "})

    assert response.status_code == 302
    assert "@" not in response["Location"] and "guest" not in response["Location"].lower()
    found = compliance_client.get(response["Location"])
    assert _refs(found) == {guest_access.reference}
    assert "found by their e-mail address" in found.content.decode()


def test_a_search_too_long_or_empty_says_what_to_type(compliance_client):
    long = compliance_client.post("/dashboard/search/", {"term": "x" * 3000}, follow=True)
    assert "That is too long for a reference, an e-mail address or a name." in (
        long.content.decode()
    )
    empty = compliance_client.post("/dashboard/search/", {"term": " "}, follow=True)
    assert "Type a reference, an e-mail address or a name." in empty.content.decode()


def test_searching_a_reference_opens_the_request(compliance_client, erasure):
    response = compliance_client.post("/dashboard/search/", {"term": erasure.reference.lower()})
    assert response["Location"] == f"/dashboard/requests/{erasure.reference}/"
    number = erasure.reference.rsplit("-", 1)[1]
    partial = compliance_client.post("/dashboard/search/", {"term": number})
    assert _refs(compliance_client.get(partial["Location"])) == {erasure.reference}


@pytest.mark.parametrize("term", ["+49 30 12345678", "493012345678", "DSR-20-1"])
def test_a_search_that_is_no_reference_goes_in_no_url(compliance_client, erasure, term):
    """Phone numbers are not searched (the queue holds no such index), and must not end up in
    an address, where logs would keep them."""
    response = compliance_client.post("/dashboard/search/", {"term": term}, follow=True)
    assert response.redirect_chain == [("/dashboard/", 302)]
    assert "No request has that reference." in response.content.decode()


def test_searching_by_name_finds_the_persons_requests_with_no_name_in_the_url(
    compliance_client, erasure, guest_access, completed_access
):
    """The name the person gave, or their account's, word by word and in any case; kept in
    the officer's session and named in the URL by a key."""
    response = compliance_client.post("/dashboard/search/", {"term": " customer ALICE "})
    assert response.status_code == 302
    assert "alice" not in response["Location"].lower() and "named=" in response["Location"]
    found = compliance_client.get(response["Location"])
    assert _refs(found) == {erasure.reference}
    assert "name contains each of: “customer”, “ALICE”" in found.content.decode()
    # A key the session does not keep (another officer's, an old one) finds nothing.
    unknown = compliance_client.get("/dashboard/", {"status": "all", "named": "NotKept"})
    assert _refs(unknown) == set()
    assert "This search by name is no longer kept" in unknown.content.decode()
    # A name that begins like a reference is still a name.
    dsr_like = compliance_client.post("/dashboard/search/", {"term": "Dsrani"})
    assert "named=" in dsr_like["Location"]
    nobody = compliance_client.post("/dashboard/search/", {"term": "Zoë Nobody"})
    assert _refs(compliance_client.get(nobody["Location"])) == set()


def test_a_name_is_found_in_any_case_and_with_or_without_its_accents(compliance_client, db):
    """As the officer heard it on the phone: "zoe unicode" finds "Zoë Ünïcødé"."""
    named = file_request(
        type="access", email="zoe@example.com", channel="portal_guest", full_name="Zoë Ünïcødé"
    )
    file_request(type="access", email="zed@example.com", channel="portal_guest", full_name="Zed")
    for term in ("ünïcødé", "ÜNÏCØDÉ", "zoe unicode", "ZOË"):
        response = compliance_client.post("/dashboard/search/", {"term": term})
        assert _refs(compliance_client.get(response["Location"])) == {named.reference}, term


def test_assign_to_me_from_the_queue_and_a_stale_view_is_refused(
    compliance_client, compliance_user, erasure
):
    response = compliance_client.post(
        f"/dashboard/requests/{erasure.reference}/assign/",
        {"to": "me", "seen": "", "next": "/dashboard/?type=erasure"},
    )
    assert response["Location"] == "/dashboard/?type=erasure"
    erasure.refresh_from_db()
    assert erasure.assignee == compliance_user
    assert AuditEvent.objects.filter(action="dsr.request.assigned").count() == 1
    # A second click of the same button (its page still says nobody) is what it asked for.
    again = compliance_client.post(
        f"/dashboard/requests/{erasure.reference}/assign/",
        {"to": "me", "seen": "", "next": "/dashboard/?type=erasure"},
        follow=True,
    )
    assert "is now yours" in again.content.decode()
    assert "changed who handles" not in again.content.decode()
    assert AuditEvent.objects.filter(action="dsr.request.assigned").count() == 1
    # The request's timeline names who it went to, as the audit trail does, not their number.
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    name = f"{compliance_user.first_name} {compliance_user.last_name}"
    assert f"Assigned to: — → {name}" in page
    assert f"Assigned to: {compliance_user.pk}<" not in page

    # A colleague who still sees the request as unassigned cannot take it over unknowingly.
    other = login(Client(), StaffFactory(group=COMPLIANCE_GROUP), mfa=True)
    response = other.post(
        f"/dashboard/requests/{erasure.reference}/assign/",
        {"to": "me", "seen": "", "next": "https://evil.example/"},
        follow=True,
    )
    assert "changed who handles this request" in response.content.decode()
    assert response.redirect_chain[-1][0] == f"/dashboard/requests/{erasure.reference}/"
    erasure.refresh_from_db()
    assert erasure.assignee == compliance_user
    # Released, it says from whom.
    compliance_client.post(
        f"/dashboard/requests/{erasure.reference}/assign/",
        {"to": "nobody", "seen": str(compliance_user.pk)},
    )
    page = compliance_client.get(f"/dashboard/requests/{erasure.reference}/").content.decode()
    assert f"Assigned to: {name} → —" in page


def test_assign_to_me_in_the_queue_leads_back_to_the_same_filtered_queue(
    compliance_client, compliance_user, erasure
):
    queue = "/dashboard/?type=erasure&status=open"
    page = compliance_client.get(queue).content.decode()
    assign = page.split(f'action="/dashboard/requests/{erasure.reference}/assign/"', 1)[1]
    back = html.unescape(re.search(r'name="next" value="([^"]*)"', assign).group(1))

    response = compliance_client.post(
        f"/dashboard/requests/{erasure.reference}/assign/", {"to": "me", "seen": "", "next": back}
    )

    assert response.status_code == 302 and response["Location"] == queue
    erasure.refresh_from_db()
    assert erasure.assignee == compliance_user
    # A page name instead of an address leads to the request.
    again = compliance_client.post(
        f"/dashboard/requests/{erasure.reference}/assign/",
        {"to": "me", "seen": str(compliance_user.pk), "next": "queue"},
    )
    assert again["Location"] == f"/dashboard/requests/{erasure.reference}/"


def test_a_seen_assignee_in_other_digits_counts_as_nobody(
    compliance_client, compliance_user, erasure
):
    # "²" is a digit to str.isdigit() but not a number to int().
    response = compliance_client.post(
        f"/dashboard/requests/{erasure.reference}/assign/", {"to": "me", "seen": "²"}, follow=True
    )
    assert response.status_code == 200
    assert "changed who handles this request" not in response.content.decode()
    erasure.refresh_from_db()
    assert erasure.assignee == compliance_user


def test_a_page_of_the_queue_costs_the_same_queries_however_many_requests(
    compliance_client, django_assert_max_num_queries
):
    def add(n):
        now = timezone.now()
        for i in range(n):
            request = file_request(
                type="access",
                email=f"bulk{DataSubjectRequest.objects.count()}-{i}@example.com",
                channel="portal_guest",
            )
            DataSubjectRequest.objects.filter(pk=request.pk).update(
                due_at=now + timedelta(days=i % 40 - 5), assignee=UserFactory(is_staff=True)
            )

    add(5)
    with django_assert_max_num_queries(16):
        assert compliance_client.get("/dashboard/").status_code == 200
    add(60)
    with django_assert_max_num_queries(16):
        response = compliance_client.get("/dashboard/", {"sort": "-received"})
    assert len(response.context["rows"]) == 50


def test_the_dashboard_runs_no_tag_and_the_banner_does_not_ask(compliance_client, settings):
    """A place of work that shows customers' data: the site's tags are left out and the
    banner stays closed there, as on the customers' pages it would ask."""
    settings.CONSENT_PORTAL_TAGS = [{"category": "analytics", "src": "https://tags.example/a.js"}]
    page = compliance_client.get("/dashboard/").content.decode()
    assert 'data-show="never"' in page and "tags.example" not in page
    home = compliance_client.get("/").content.decode()
    assert 'data-show="never"' not in home
    assert '<script type="text/plain" data-category="analytics"' in home


def test_the_filters_show_no_label_for_what_they_keep_hidden(compliance_client):
    page = compliance_client.get("/dashboard/").content.decode()
    assert 'type="hidden" name="named"' in page and 'type="hidden" name="person"' in page
    assert 'for="id_named"' not in page and 'for="id_person"' not in page
