"""A compliance officer's work in Chromium: sign in with a one-time code, find what is due,
preview an erasure, approve it, watch it complete, open the receipt; extend a deadline; read
the metrics."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.demo import totp_code
from dsr.models import DataStore, DataSubjectRequest, State
from privacy_portal.permissions import COMPLIANCE_GROUP
from tests.dsr.helpers import add_store, file_request
from tests.e2e.conftest import ARTIFACTS, mail_to
from tests.factories import PASSWORD, TOTP_SECRET, AddressFactory, StaffFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _current_code() -> str:
    """The authenticator code, read with at least 10 of its 30 seconds left: one read at the
    end of its window reaches a busy server in the next, where it no longer counts."""
    left = 30 - time.time() % 30
    if left < 10:
        time.sleep(left + 0.1)
    return totp_code(TOTP_SECRET)


def staff_signs_in(page, staff, start):
    """Open ``start``, sign in there with password and authenticator code."""
    page.goto(start)
    page.get_by_label("E-mail", exact=True).fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(_current_code())
    page.get_by_role("button", name="Sign in").click()


def officer_signs_in(page, officer):
    """Open the dashboard, sign in with password and authenticator code, land on the queue."""
    staff_signs_in(page, officer, "/dashboard/")
    page.get_by_role("heading", name="Requests", exact=True).wait_for()


def _due_in(request, days):
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        due_at=timezone.now() + timedelta(days=days)
    )


def test_an_officer_previews_approves_and_proves_an_erasure(page, celery_worker):
    # The portal's own store (registered by a migration; other transactional tests empty it).
    if not DataStore.objects.filter(key="portal").exists():
        add_store(
            "portal",
            "dsr.connectors.portal.PortalConnector",
            name="Inper Privacy Portal",
            position=0,
        )
    officer = StaffFactory(group=COMPLIANCE_GROUP)
    person = UserFactory(email="erase.me@example.com")
    AddressFactory(user=person, line1="5 Forget-Me Lane")
    urgent = file_request(type="erasure", user=person)
    _due_in(urgent, 4)
    later = file_request(type="erasure", user=UserFactory(email="later@example.com"))
    _due_in(later, 25)

    officer_signs_in(page, officer)
    page.get_by_role("link", name=re.compile("due within 7 days")).click()
    page.get_by_role("link", name=urgent.reference).click()
    assert page.get_by_text(later.reference).count() == 0
    page.get_by_role("heading", name=urgent.reference).wait_for()

    # Preview: every store is searched on the workers; the page fills in as they answer.
    page.get_by_role("button", name="Search every store for this person").click()
    preview = page.locator("#preview")
    preview.get_by_text(re.compile(r"\d+ records? found")).first.wait_for(timeout=30_000)
    assert preview.get_by_text("addresses").count() >= 1
    assert preview.get_by_text("delete").count() >= 1

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Approve", exact=True).click()
    page.get_by_text("Approved. The stores are being worked through.").wait_for()
    # The page follows the request until the workers are done.
    page.locator(".dash-head .badge", has_text="Completed").wait_for(timeout=45_000)

    page.get_by_role("link", name="Open the receipt").click()
    page.get_by_role("heading", name=f"Receipt of {urgent.reference}").wait_for()
    assert page.get_by_text("signature valid").count() == 1
    # Printed, the full receipts are unfolded (and folded again after).
    folded = "document.querySelectorAll('main details:not([open])').length"
    assert page.evaluate(folded) > 0
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.evaluate(folded) == 0
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert page.evaluate(folded) > 0
    urgent.refresh_from_db()
    assert urgent.state == State.COMPLETED and urgent.approved_by_id == officer.pk
    assert not type(person).objects.filter(pk=person.pk).exists()


def test_an_officer_extends_a_deadline_and_the_person_is_told_why(page, mailoutbox):
    officer = StaffFactory(group=COMPLIANCE_GROUP)
    person = UserFactory(email="patient.person@example.com")
    request = file_request(type="erasure", user=person)
    before = request.due_at

    officer_signs_in(page, officer)
    page.get_by_role("link", name=request.reference).click()
    page.get_by_text("Extend the deadline").click()
    page.get_by_label("Why do you need more time?").fill(
        "Your orders are kept in an archive that is being moved this month."
    )
    page.get_by_role("button", name="Extend and tell the person").click()
    page.get_by_text("The deadline was extended and the person was told why.").wait_for()

    letter = mail_to(mailoutbox, person.email)[-1]
    assert "archive that is being moved" in letter.body
    request.refresh_from_db()
    assert request.due_at > before and request.extended_at is not None
    # Only once.
    assert page.get_by_text("Extend the deadline").count() == 0


def test_an_officer_lifts_a_restriction_after_the_person_is_told(page, celery_worker, mailoutbox):
    """GDPR Art. 18(3): the person is e-mailed the reason first; a worker then lifts the
    restriction in the store; the dashboard and the person's page say it is lifted."""
    from dsr.services import dsr_request_approve
    from tests.dsr.connectors import restricted
    from tests.worker import wait_until

    officer = StaffFactory(group=COMPLIANCE_GROUP)
    person = UserFactory(email="restricted.person@example.com", preferred_language="de")
    add_store("crm", "tests.dsr.connectors.RestrictingConnector", name="Group CRM")
    request = dsr_request_approve(
        request=file_request(type="restriction", user=person), actor=officer
    )
    wait_until(
        lambda: DataSubjectRequest.objects.get(pk=request.pk).state == State.COMPLETED,
        message="the restriction carried out by the worker",
    )
    assert restricted("crm", person.email) is True

    officer_signs_in(page, officer)
    page.goto(f"/dashboard/requests/{request.reference}/")
    page.locator("#lift summary").click()
    page.get_by_label("Why is the restriction lifted?").fill(
        "Your complaint about the order was settled."
    )
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Tell the person and lift the restriction").click()
    page.get_by_text(
        "The person was told by e-mail; the stores are lifting the restriction."
    ).wait_for()

    letter = mail_to(mailoutbox, person.email)[-1]
    assert "Einschränkung" in letter.subject and "complaint about the order" in letter.body
    wait_until(
        lambda: DataSubjectRequest.objects.get(pk=request.pk).restriction_lifted_at,
        message="the restriction lifted by the worker",
    )
    assert restricted("crm", person.email) is False
    # The page follows the stores' lifting, without a reload.
    page.locator(".dash-head .badge", has_text="restriction lifted").wait_for(timeout=20_000)
    assert page.get_by_role("heading", name="Lift the restriction").count() == 0


def test_the_metrics_page_draws_its_charts_and_its_csv_matches_the_database(page):
    officer = StaffFactory(group=COMPLIANCE_GROUP)
    now = timezone.now()
    for index in range(6):
        request = file_request(
            type="access" if index % 2 else "erasure",
            email=f"metric{index}@example.com",
            channel="portal_guest",
        )
        received = now - timedelta(days=40 * index + 1)
        DataSubjectRequest.objects.filter(pk=request.pk).update(
            received_at=received,
            due_at=received + timedelta(days=30),
            state=State.COMPLETED if index else State.AWAITING_IDENTITY,
            completed_at=received + timedelta(days=3 + index) if index else None,
        )

    officer_signs_in(page, officer)
    page.get_by_role("link", name="Metrics").click()
    page.get_by_role("heading", name="Requests per month").wait_for()
    drawn = page.wait_for_function(
        "() => ['volume', 'durations', 'on_time', 'backlog'].every("
        "id => window.Chart && Chart.getChart(document.getElementById('chart-' + id)))"
    )
    assert drawn
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-metrics.png"), full_page=True)

    response = page.request.get("/dashboard/metrics/volume.csv?months=12")
    assert response.ok
    rows = list(csv.reader(io.StringIO(response.text())))
    assert rows[0] == ["Month", "Type", "Received", "Completed", "Rejected"]
    received = sum(int(row[2]) for row in rows[1:])
    completed = sum(int(row[3]) for row in rows[1:])
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    from dateutil.relativedelta import relativedelta

    start -= relativedelta(months=11)
    assert received == DataSubjectRequest.objects.filter(received_at__gte=start).count()
    assert (
        completed
        == DataSubjectRequest.objects.filter(completed_at__gte=start, state=State.COMPLETED).count()
    )


def test_after_an_action_focus_starts_on_its_confirmation(page):
    """A keyboard user who pressed "Assign to me" hears the result and goes on from it, not
    from the skip link at the top of the page."""
    officer = StaffFactory(group=COMPLIANCE_GROUP)
    request = file_request(
        type="rectification", user=UserFactory(email="focus.person@example.com"), details="Typo"
    )
    officer_signs_in(page, officer)
    page.goto(f"/dashboard/requests/{request.reference}/")
    page.get_by_role("button", name="Assign to me").click()
    page.get_by_text(f"{request.reference} is now yours.").wait_for()
    page.wait_for_load_state("load")
    assert page.evaluate(
        "document.activeElement.classList.contains('messages')"
        " && document.activeElement.textContent.includes('is now yours')"
    )
    page.keyboard.press("Tab")
    assert not page.evaluate("document.activeElement.classList.contains('skip-link')")
