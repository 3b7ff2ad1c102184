"""Marking steps done on the dashboard: only steps that wait for staff, and a copy's step takes
the person's data from the system, as the admin's manual-step page does."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dsr import packages
from dsr.models import DataSubjectRequest, State, StoreTask, TaskState
from dsr.services import dsr_request_approve
from privacy_portal.audit.models import AuditEvent
from tests.dsr.helpers import add_store, file_request, open_package, run_pending_tasks

pytestmark = pytest.mark.django_db


def _messages(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def _erasure_waiting_on(store_key, customer):
    """The customer's erasure, approved and run, with its step in a store that waits for staff."""
    add_store(store_key, "tests.dsr.connectors.StaffStepConnector")
    request = file_request(type="erasure", user=customer)
    request = run_pending_tasks(dsr_request_approve(request=request, actor=None))
    return request, request.tasks.get(store__key=store_key)


def test_a_step_waiting_for_the_stores_signed_callback_cannot_be_marked_done_by_hand(
    compliance_client, customer, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    request, step = _erasure_waiting_on("newsletter-like", customer)
    # As an HTTP store that answered 202 and will post its result later.
    StoreTask.objects.filter(pk=step.pk).update(waiting_for="callback")

    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert f"/dashboard/tasks/{step.pk}/done/" not in page
    response = compliance_client.post(
        f"/dashboard/tasks/{step.pk}/done/",
        {f"done-{step.pk}-note": "I am sure they deleted it."},
        follow=True,
    )
    assert "This step is not waiting for anyone." in _messages(response)
    step.refresh_from_db()
    assert step.state == TaskState.WAITING and step.completed_by is None
    assert DataSubjectRequest.objects.get(pk=request.pk).state == State.WAITING


def test_a_copys_manual_step_done_on_the_dashboard_puts_the_files_in_the_package(
    compliance_client, customer, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    add_store("payments", "tests.dsr.connectors.StaffStepConnector")
    request = run_pending_tasks(file_request(type="access", user=customer))
    step = request.tasks.get(store__key="payments")
    assert step.state == TaskState.WAITING and step.waiting_for == "manual"
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert f"done-{step.pk}-data_files" in page

    response = compliance_client.post(
        f"/dashboard/tasks/{step.pk}/done/",
        {
            f"done-{step.pk}-note": "Exported the profile from the PSP dashboard.",
            f"done-{step.pk}-data_files": SimpleUploadedFile(
                "psp-profile.csv", b"card_last4,1234\n", "text/csv"
            ),
        },
        follow=True,
    )
    assert "The step was marked done." in _messages(response)
    done = run_pending_tasks(DataSubjectRequest.objects.get(pk=request.pk))
    assert done.state == State.COMPLETED
    archive = open_package(done)
    assert any(name.endswith("psp-profile.csv") for name in archive.namelist())


def test_the_audit_trail_can_be_filtered_up_to_the_last_date(compliance_client):
    assert compliance_client.get("/dashboard/audit/?until=9999-12-31").status_code == 200
    response = compliance_client.get("/dashboard/audit/export.csv?until=9999-12-31")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"seq,")


def test_a_step_is_not_marked_done_with_a_note_that_shows_nothing(
    compliance_client, customer, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DSR_STORAGE_DIR = tmp_path / "dsr"
    add_store("payments", "tests.dsr.connectors.StaffStepConnector")
    request = run_pending_tasks(file_request(type="access", user=customer))
    step = request.tasks.get(store__key="payments")

    response = compliance_client.post(
        f"/dashboard/tasks/{step.pk}/done/",
        {
            f"done-{step.pk}-note": "\u200c\u200d\u00a0",
            f"done-{step.pk}-data_files": SimpleUploadedFile(
                "psp-profile.csv", b"card_last4,1234\n", "text/csv"
            ),
        },
        follow=True,
    )

    assert "Describe what you did." in _messages(response)
    step.refresh_from_db()
    assert step.state == TaskState.WAITING and step.completed_by is None and step.note == ""
    # The person's file was not put into their copy meanwhile.
    assert not (packages._work_dir(request.pk) / "payments").exists()


def test_a_correction_asks_staff_to_correct_the_portal_account_and_completes_when_done(
    compliance_client, customer
):
    """The person says what is wrong in words: the portal's own copy (their account) gets a
    step for staff too, not only the other systems; done, the request is answered."""
    request = file_request(type="rectification", user=customer, details="My phone is +44 20 1")
    request = run_pending_tasks(dsr_request_approve(request=request, actor=None))
    step = request.tasks.get(store__key="portal", action="rectify")
    assert step.state == TaskState.WAITING and step.waiting_for == "manual"
    assert "Correct the person's account in the admin" in step.instructions
    assert request.state == State.WAITING

    # The officer can do what the step says: correct the profile (not the sign-in address).
    page = f"/admin/accounts/user/{customer.pk}/change/"
    form = compliance_client.get(page).content.decode()
    assert 'name="phone"' in form and 'name="email"' not in form
    assert 'name="is_active"' not in form
    data = {
        name: value
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
        if name != "csrfmiddlewaretoken"
    }
    data.update(
        first_name=customer.first_name,
        last_name=customer.last_name,
        phone="+44 20 7946 0018",
        country="GB",
        preferred_language="en",
    )
    saved = compliance_client.post(page, data, follow=True)
    customer.refresh_from_db()
    assert customer.phone == "+442079460018" and customer.is_active
    event = AuditEvent.objects.get(action="admin.changed")
    assert "Phone" in event.after["fields"] and "+44" not in str(event.after)
    assert event.reason == f"corrected_for:{request.reference}"
    # The change is noted on the correction it carries out: the request shows where, by whom.
    said = " ".join(str(m) for m in saved.context["messages"])
    assert f"Noted on correction request {request.reference}, as where it was corrected." in said
    noted = AuditEvent.objects.get(action="dsr.request.corrected_in_admin")
    assert noted.scope == f"dsr.datasubjectrequest:{request.pk}"
    assert noted.after == {"fields": event.after["fields"]}
    timeline = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert "Corrected in the admin" in timeline
    # The new number is nowhere on the page (a time's microseconds may hold its digits).
    assert "7946 0018" not in timeline and "2079460018" not in timeline

    response = compliance_client.post(
        f"/dashboard/tasks/{step.pk}/done/",
        {f"done-{step.pk}-note": "Changed the phone number as asked."},
        follow=True,
    )
    assert "The step was marked done." in _messages(response)
    done = run_pending_tasks(DataSubjectRequest.objects.get(pk=request.pk))
    assert done.state == State.COMPLETED


def test_a_correction_for_someone_without_an_account_asks_nothing_of_the_portal(customer):
    request = file_request(
        type="rectification",
        email="no.account@example.com",
        channel="phone",
        details="Wrong name",
        identity_method="staff_callback",
        identity_note="Called back",
    )
    request = run_pending_tasks(dsr_request_approve(request=request, actor=None))
    step = request.tasks.get(store__key="portal", action="rectify")
    assert step.state == TaskState.SUCCEEDED


def test_a_step_done_with_evidence_keeps_its_checksum_in_the_receipt(
    customer, compliance_user, compliance_client, settings, tmp_path
):
    import hashlib

    from dsr.services import dsr_task_complete_manual

    settings.MEDIA_ROOT = tmp_path
    _request, step = _erasure_waiting_on("payments", customer)
    content = b"%PDF-1.4 screenshot of the deletion"

    done = dsr_task_complete_manual(
        task=step,
        actor=compliance_user,
        note="Deleted the card profile.",
        evidence=SimpleUploadedFile("proof.pdf", content, "application/pdf"),
    )

    assert done.receipt["evidence_sha256"] == hashlib.sha256(content).hexdigest()
    assert done.receipt["manual"] and done.receipt["completed_at"]
    assert done.evidence.read() == content
    # The receipt page says who did it, what they wrote, and the evidence's checksum.
    page = compliance_client.get(f"/dashboard/requests/{_request.reference}/receipt/")
    proof = " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())
    name = f"{compliance_user.first_name} {compliance_user.last_name}"
    assert f"Done by staff: {name}: Deleted the card profile." in proof
    assert done.receipt["evidence_sha256"] in proof


def test_a_manual_step_names_what_finds_the_person_there_also_once_the_account_is_erased(
    compliance_client, customer, other_customer
):
    """As the demo's analytics step: "delete the user whose id is the portal account id". The
    portal's own erasure deleted the account before staff come to the step."""
    add_store(
        "analytics-like",
        "dsr.connectors.manual.ManualConnector",
        identities=["customer_id", "email"],
        config={"actions": ["erase"], "instructions": {"erase": "Delete the user by id."}},
    )
    account, email = customer.pk, customer.email
    request = file_request(type="erasure", user=customer)
    request = run_pending_tasks(dsr_request_approve(request=request, actor=None))
    assert request.state == State.WAITING
    assert not type(customer).objects.filter(pk=account).exists()

    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    found = re.search(r"<strong>The person there:</strong>(.*?)</p>", page).group(1)
    assert f'Portal account id <span class="nowrap">{account}</span>' in found
    assert f'E-mail address <span class="nowrap">{email}</span>' in found
    assert other_customer.email not in found
