"""Data-subject requests in Chromium, carried out by a real worker."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile

import pytest

from dsr.models import DataSubjectRequest, State
from dsr.services import dsr_request_approve, dsr_request_verify_manually
from tests.dsr.helpers import file_request
from tests.e2e.conftest import guest_code_asked, link_in, mail_to, sign_in
from tests.factories import PASSWORD, AddressFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_customer_files_an_access_request_and_downloads_a_package_that_checks_out(
    page, celery_worker, tmp_path
):
    alice = UserFactory(email="alice.browser@example.com", first_name="Alice")
    AddressFactory(user=alice, line1="7 Browser Lane")
    sign_in(page, alice.email, PASSWORD)

    # As from "Get a copy of my data" on the "My data" page: the type comes chosen.
    page.goto("/requests/new/?type=access")
    assert page.get_by_label(re.compile("^Access")).is_checked()
    page.get_by_role("button", name="Send my request").click()
    # The password is asked again before anything is disclosed.
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text(re.compile(r"We received your request DSR-\d{4}-\d{6}")).wait_for()

    # The worker runs; the page follows without a reload and offers the download.
    page.get_by_role("link", name="Download my data").wait_for(timeout=60_000)
    request = DataSubjectRequest.objects.get(user=alice)
    assert request.state == State.COMPLETED

    # The password was confirmed minutes ago (allauth's re-authentication window), so the
    # download starts at once; later it is asked again (tests/dsr/test_views.py).
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download my data").click()
    download = download_info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert download.suggested_filename == f"inper-data-{request.reference}.zip"

    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        listed = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
        assert set(listed) == set(archive.namelist()) - {"manifest.json"}
        for name, digest in listed.items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest
        assert "7 Browser Lane" in archive.read("stores/portal/addresses.json").decode()


def test_a_guest_files_an_erasure_confirms_the_link_and_sees_it_complete(
    page, celery_worker, mailoutbox, live_server, compliance_user
):
    page.goto("/requests/new/")
    page.get_by_label("Your e-mail address").fill("guest.browser@example.com")
    understood = page.get_by_label("I understand that an erasure cannot be undone.")
    assert not understood.is_visible()  # asked only for an erasure
    page.get_by_label(re.compile("^Erasure")).check()
    page.get_by_role("button", name="Send my request").click()
    # Not without saying it is understood that it cannot be undone.
    page.get_by_text("Tick the box to confirm that you understand").wait_for()
    understood.check()
    page.get_by_role("button", name="Send my request").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()

    link = link_in(mail_to(mailoutbox, "guest.browser@example.com")[-1], "/requests/verify/")
    page.goto(link.replace("http://localhost:8000", live_server.url))
    page.get_by_label("One of your order numbers").fill("A-1000")
    page.get_by_role("button", name="Yes, this is my request").click()
    # No store knows that order number: the guest is told so at once, the link still works.
    page.get_by_text("This is not the number of an order made with this e-mail address.").wait_for()
    page.get_by_label("One of your order numbers").fill("")
    page.get_by_role("button", name="Yes, this is my request").click()
    page.get_by_text("our privacy team will contact you to confirm it is you").wait_for()

    # Without an order number, an officer confirms the identity and approves.
    request = DataSubjectRequest.objects.get(email="guest.browser@example.com")
    request = dsr_request_verify_manually(
        request=request,
        actor=compliance_user,
        method="staff_callback",
        note="Called the number on the order",
    )
    dsr_request_approve(request=request, actor=compliance_user)

    page.reload()
    page.locator("[data-state='completed']").wait_for(timeout=60_000)
    page.get_by_text("found nothing about you").wait_for()


def test_a_guest_who_mistypes_the_download_code_then_types_it_right_sees_the_download_start(
    page, mailoutbox
):
    """The right code's download leaves a page that says it started, not the page with the
    error of the code mistyped before."""
    request, code = guest_code_asked(page, mailoutbox, "guest.code@example.com")

    page.get_by_label("The code from the e-mail").fill("00000000")
    page.get_by_role("button", name="Download", exact=True).click()
    error = page.get_by_text("That code is not right, or it has expired.")
    error.wait_for()
    page.get_by_label("The code from the e-mail").fill(code)
    with page.expect_download() as started:
        page.get_by_role("button", name="Download", exact=True).click()

    assert started.value.suggested_filename == f"inper-data-{request.reference}.zip"
    assert not error.is_visible()
    assert page.get_by_role("status").filter(has_text="Your download starts").is_visible()


def test_a_request_page_left_open_follows_the_approval_without_a_reload(page, compliance_user):
    """The notice that the request is being reviewed, and the button to cancel it, go once
    an officer approves; the systems' progress appears."""
    alice = UserFactory(email="alice.waiting@example.com")
    request = file_request(type="rectification", user=alice, details="My name is spelt wrong")
    assert request.state == State.IN_REVIEW
    sign_in(page, alice.email, PASSWORD)
    page.goto(f"/requests/{request.reference}/")
    cancel = page.get_by_role("link", name="Cancel this request")
    cancel.wait_for()
    assert page.get_by_text("is reviewing your request").is_visible()
    # Someone reading with the keyboard is on the main menu's link.
    menu_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests")
    menu_link.focus()

    dsr_request_approve(request=request, actor=compliance_user)

    cancel.wait_for(state="detached", timeout=15_000)
    assert not page.get_by_text("is reviewing your request").is_visible()
    page.get_by_text("Inper's systems dealt with").wait_for()
    # What happens next, said while it runs.
    assert page.get_by_text("We will e-mail you when it is done.").is_visible()
    # Drawn again for the new state: the change is announced, and focus is where it was.
    live = page.locator("[data-progress-live]")
    said = "el => el.textContent.includes('In progress')"
    page.wait_for_function(said, arg=live.element_handle())
    assert page.evaluate("document.activeElement.textContent.trim()") == "Requests"


def test_a_request_page_left_open_asks_less_and_less_often_while_nothing_moves(page):
    """Every 3 seconds for a minute, then slower: a step that waits days for staff does not
    cost a request every 3 seconds for as long as the page stays open."""
    alice = UserFactory(email="alice.patient@example.com")
    request = file_request(type="restriction", user=alice, details="Please check my name")
    sign_in(page, alice.email, PASSWORD)
    asked = []
    page.on(
        "request", lambda sent: asked.append(sent.url) if sent.url.endswith("/progress/") else None
    )
    page.clock.install()
    page.goto(f"/requests/{request.reference}/")
    page.get_by_role("link", name="Cancel this request").wait_for()
    for _second in range(0, 180, 3):  # three minutes of the page's time, nothing moving
        page.clock.run_for(3000)
        page.wait_for_timeout(60)  # the answer, in real time
    # 20 in the first minute, then 4.5, 6.8, 10, 15, 23, 34, 51 seconds apart...
    assert 20 <= len(asked) <= 30, len(asked)


def test_an_erasure_page_left_open_shows_it_completed_after_the_account_is_gone(
    page, celery_worker, compliance_user
):
    """The erasure removes the account and its session: the page left open still follows
    it to its end (by the signed link) and shows what was done, without a reload."""
    alice = UserFactory(email="alice.leaving@example.com")
    sign_in(page, alice.email, PASSWORD)
    page.goto("/requests/new/?type=erasure")
    page.get_by_label("I understand that an erasure cannot be undone.").check()
    page.get_by_role("button", name="Send my request").click()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text(re.compile(r"We received your request DSR-\d{4}-\d{6}")).wait_for()

    request = DataSubjectRequest.objects.get(user=alice, type="erasure")
    if request.state != State.RUNNING:
        dsr_request_approve(request=request, actor=compliance_user)
    page.locator("[data-state='completed']").wait_for(timeout=60_000)
    assert not UserFactory._meta.model.objects.filter(email=alice.email).exists()
    page.get_by_text("What we did").first.wait_for()


def test_a_customer_cannot_open_someone_elses_request_by_changing_the_reference(page):
    alice = UserFactory(email="alice.curious@example.com")
    bob = UserFactory(email="bob.private@example.com")
    theirs = file_request(type="erasure", user=bob, details="Bob's secret details")
    sign_in(page, alice.email, PASSWORD)

    for path in (f"/requests/{theirs.reference}/", f"/requests/{theirs.reference}/download/"):
        response = page.goto(path)
        assert response.status == 404
        assert "Bob's secret details" not in page.content()
        assert bob.email not in page.content()


def test_each_request_type_reads_as_a_card_with_its_radio_beside_its_name(page):
    page.goto("/requests/new/")
    for name in ("^Access", "^Erasure", "^Withdraw consent"):
        radio = page.get_by_role("radio", name=re.compile(name)).bounding_box()
        label = page.get_by_text(re.compile(name), exact=False).first.bounding_box()
        # The name starts just right of its radio, and the card is as wide as the form.
        assert 0 <= label["x"] - (radio["x"] + radio["width"]) < 30
        assert label["width"] > 300


def test_each_kind_of_stop_offers_only_the_uses_it_can_name(page):
    """A consent is withdrawn from what is done with consent; an objection is to the rest and
    to marketing. Switching back and forth keeps what was ticked."""
    page.goto("/requests/new/")
    surveys = page.get_by_label("Customer surveys")
    statistics = page.get_by_label("Statistical studies")
    email = page.get_by_label("News and offers by e-mail")

    page.get_by_label(re.compile("^Withdraw consent")).check()
    assert surveys.is_visible() and email.is_visible() and not statistics.is_visible()
    surveys.check()
    page.get_by_label(re.compile("^Object")).check()
    assert statistics.is_visible() and email.is_visible() and not surveys.is_visible()
    assert surveys.is_disabled()  # not sent with an objection
    page.get_by_label(re.compile("^Withdraw consent")).check()
    assert surveys.is_checked() and surveys.is_enabled()


def test_a_second_click_on_send_while_the_answer_is_on_its_way_sends_nothing(page):
    """An impatient second click (or a double click) while the answer is on its way sends the
    form once: one request, one set of e-mails."""
    page.goto("/requests/new/")
    page.get_by_label("Your e-mail address").fill("double.click@example.com")
    page.get_by_label(re.compile("^Access")).check()
    # Count the submissions the page lets through, holding them back to send them later.
    sent = page.evaluate(
        """() => {
          let through = 0;
          const count = (event) => {
            if (!event.defaultPrevented) through += 1;
            event.preventDefault();
          };
          window.addEventListener("submit", count);
          const button = [...document.querySelectorAll("form[method=post] button")].find(
            (candidate) => /Send my request/.test(candidate.textContent)
          );
          button.click();
          button.click();
          window.removeEventListener("submit", count);
          return through;
        }"""
    )
    assert sent == 1
    # Shown again by the back button, the form can be sent again.
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pageshow'))")
    page.get_by_role("button", name="Send my request").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    assert DataSubjectRequest.objects.filter(email="double.click@example.com").count() == 1


def test_a_form_sent_back_with_errors_says_so_in_its_title_and_takes_focus_to_the_field(page):
    page.goto("/requests/new/?type=access")
    page.get_by_label("Your e-mail address").fill("not-an-address")
    page.get_by_role("button", name="Send my request").click()
    page.wait_for_load_state()

    assert page.title().startswith("Please correct the form · ")
    focused = page.evaluate(
        "[document.activeElement.getAttribute('aria-invalid'), document.activeElement.name]"
    )
    assert focused == ["true", "email"]
