"""Stores without an API: manual steps assigned to staff, completed in the admin, reminded."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from dsr import maintenance
from dsr.connectors.base import ConfigurationError
from dsr.connectors.manual import ManualConnector
from dsr.models import State, StoreTask, TaskState
from dsr.services import dsr_request_approve
from privacy_portal.audit.models import AuditEvent
from privacy_portal.permissions import COMPLIANCE_GROUP
from tests.conftest import login
from tests.dsr.helpers import add_store, file_request, open_package, run_pending_tasks
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

MANUAL = "dsr.connectors.manual.ManualConnector"
INSTRUCTIONS = {
    "export": "In the PSP dashboard, search the customer by e-mail and export the profile as CSV.",
    "erase": "In the PSP dashboard, delete the customer profile and the stored card tokens.",
}


def payment_provider():
    return add_store(
        "payment-provider",
        MANUAL,
        name="Payment provider",
        config={
            "actions": ["export", "erase"],
            "assigned_group": COMPLIANCE_GROUP,
            "instructions": INSTRUCTIONS,
        },
    )


def test_an_access_request_waits_for_staff_who_add_the_providers_data(customer, compliance_client):
    payment_provider()
    request = run_pending_tasks(file_request(type="access", user=customer))
    assert request.state == State.WAITING
    task = request.tasks.get(store__key="payment-provider")
    assert task.state == TaskState.WAITING and task.waiting_for == "manual"
    assert task.assigned_group == COMPLIANCE_GROUP and "export the profile" in task.instructions
    # The person reads what "With our team" means.
    mine = login(Client(), customer).get(f"/requests/{request.reference}/").content.decode()
    assert "With our team" in mine and "our staff do that part by hand" in mine

    listing = compliance_client.get("/admin/dsr/manualstep/").content.decode()
    assert request.reference in listing and "Payment provider" in listing
    page = compliance_client.get(f"/admin/dsr/manualstep/{task.pk}/change/").content.decode()
    assert "export the profile as CSV" in page and customer.email in page

    response = compliance_client.post(
        f"/admin/dsr/manualstep/{task.pk}/change/",
        {
            "note": "Exported the customer profile from the PSP dashboard.",
            "data_files": [
                SimpleUploadedFile("psp-profile.csv", b"customer,cards\nAlice,Visa 4242\n")
            ],
        },
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.state == TaskState.SUCCEEDED
    done_at = task.finished_at.isoformat()
    assert task.receipt == {"manual": True, "files": 1, "completed_at": done_at}
    assert task.completed_by is not None and "PSP dashboard" in task.note
    # Who did it is named, as on the officer's request page; the role in the reader's words.
    done = compliance_client.get(f"/admin/dsr/manualstep/{task.pk}/change/").content.decode()
    by = f"{task.completed_by.first_name} {task.completed_by.last_name}".strip()
    assert by and f"</strong> {by} · " in done and "Account #" not in done
    assert "assigned to Compliance officers" in done
    compliance_client.cookies["django_language"] = "de"
    german = compliance_client.get(f"/admin/dsr/manualstep/{task.pk}/change/").content.decode()
    assert "zugewiesen an Compliance-Beauftragte" in german
    del compliance_client.cookies["django_language"]

    request = run_pending_tasks(request)
    assert request.state == State.COMPLETED
    archive = open_package(request)
    assert archive.read("stores/payment-provider/files/psp-profile.csv").startswith(
        b"customer,cards"
    )
    # The cover letter links the file itself, not a folder a ZIP viewer cannot open.
    letter = archive.read("index.html").decode()
    assert 'href="stores/payment-provider/files/psp-profile.csv">psp-profile.csv</a>' in letter


def test_files_staff_add_are_explained_in_the_data_dictionary_in_the_persons_language(
    customer, compliance_client
):
    store = payment_provider()
    store.config["names"] = {"en": "Payment provider", "de": "Zahlungsdienstleister"}
    store.save(update_fields=["config"])
    request = run_pending_tasks(file_request(type="access", user=customer, language="de"))
    task = request.tasks.get(store__key="payment-provider")
    # The officer works in English; the person reads German.
    compliance_client.post(
        f"/admin/dsr/manualstep/{task.pk}/change/",
        {
            "note": "Exported from the PSP dashboard.",
            "data_files": [SimpleUploadedFile("psp-profile.csv", b"customer\nAlice\n")],
        },
        headers={"accept-language": "en"},
    )
    archive = open_package(run_pending_tasks(request))
    dictionary = json.loads(archive.read("data-dictionary.json"))
    assert dictionary["payment-provider"]["files"] == {
        "files/psp-profile.csv": "Von Inper-Mitarbeitenden aus Zahlungsdienstleister abgerufen"
    }
    assert "stores/payment-provider/files/psp-profile.csv" in archive.namelist()


def test_a_copy_step_is_done_with_the_persons_files_or_a_word_that_there_are_none(
    customer, compliance_client, compliance_user
):
    """Staff cannot mark a copy step done with nothing attached and nothing said: the person
    would be told their copy is ready without this system's part."""
    from dsr.dashboard.selectors import task_row
    from dsr.stores import manual_step_complete

    payment_provider()
    request = run_pending_tasks(file_request(type="access", user=customer))
    task = request.tasks.get(store__key="payment-provider")
    page = f"/admin/dsr/manualstep/{task.pk}/change/"

    bare = compliance_client.post(page, {"note": "Done."})
    assert bare.status_code == 400
    assert "or tick that it holds nothing about them" in bare.content.decode()
    both = compliance_client.post(
        page,
        {
            "note": "Done.",
            "nothing_held": "on",
            "data_files": [SimpleUploadedFile("psp.csv", b"customer\nAlice\n")],
        },
    )
    assert "leave “holds nothing” unticked" in both.content.decode()
    with pytest.raises(ValidationError):
        manual_step_complete(task=task, actor=compliance_user, note="Done.")
    task.refresh_from_db()
    assert task.state == TaskState.WAITING
    assert run_pending_tasks(request).package.built_at is None

    nothing = compliance_client.post(
        f"/dashboard/tasks/{task.pk}/done/",
        {
            f"done-{task.pk}-note": "Searched the PSP dashboard.",
            f"done-{task.pk}-nothing_held": "on",
        },
    )
    assert nothing.status_code == 302
    task.refresh_from_db()
    assert task.state == TaskState.SUCCEEDED and task.receipt["nothing_held"] is True
    assert (task_row(task).found, task_row(task).exported) == (0, 0)
    request = run_pending_tasks(request)
    assert request.state == State.COMPLETED and request.package.built_at is not None
    assert not any(
        name.startswith("stores/payment-provider/") for name in open_package(request).namelist()
    )


def test_an_erasure_step_is_completed_with_a_note_and_evidence(
    customer, compliance_user, compliance_client
):
    payment_provider()
    request = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=compliance_user
    )
    request = run_pending_tasks(request)
    assert request.state == State.WAITING
    task = request.tasks.get(store__key="payment-provider")

    response = compliance_client.post(f"/admin/dsr/manualstep/{task.pk}/change/", {"note": ""})
    assert response.status_code == 400  # a note is required
    response = compliance_client.post(
        f"/admin/dsr/manualstep/{task.pk}/change/",
        {
            "note": "Deleted the profile and two card tokens in the PSP dashboard.",
            "evidence": SimpleUploadedFile("confirmation.pdf", b"%PDF-1.4 deletion confirmed"),
        },
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.state == TaskState.SUCCEEDED and task.evidence.name.endswith(".pdf")
    assert AuditEvent.objects.filter(
        action="dsr.task.completed_by_staff", object_id=str(task.pk)
    ).exists()
    request = run_pending_tasks(request)
    assert request.state == State.COMPLETED


def test_evidence_of_an_unexpected_kind_is_refused(customer, compliance_user, compliance_client):
    payment_provider()
    request = run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="erasure", user=customer), actor=compliance_user
        )
    )
    task = request.tasks.get(store__key="payment-provider")
    response = compliance_client.post(
        f"/admin/dsr/manualstep/{task.pk}/change/",
        {"note": "done", "evidence": SimpleUploadedFile("run-me.exe", b"MZ")},
    )
    assert response.status_code == 400
    task.refresh_from_db()
    assert task.state == TaskState.WAITING


def test_staff_outside_the_assigned_group_cannot_complete_a_step(customer, support_client):
    payment_provider()
    request = run_pending_tasks(file_request(type="access", user=customer))
    task = request.tasks.get(store__key="payment-provider")
    assert support_client.get(f"/admin/dsr/manualstep/{task.pk}/change/").status_code == 403
    assert (
        support_client.post(f"/admin/dsr/manualstep/{task.pk}/change/", {"note": "x"}).status_code
        == 403
    )
    task.refresh_from_db()
    assert task.state == TaskState.WAITING


def test_overdue_manual_steps_are_reminded_once_per_period(
    customer, compliance_user, settings, django_capture_on_commit_callbacks
):
    payment_provider()
    request = run_pending_tasks(file_request(type="access", user=customer))
    task = request.tasks.get(store__key="payment-provider")
    mail.outbox.clear()

    assert maintenance.remind_manual_tasks() == []  # not overdue yet
    StoreTask.objects.filter(pk=task.pk).update(
        started_at=timezone.now() - timedelta(hours=settings.DSR_MANUAL_REMINDER_HOURS + 1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.remind_manual_tasks() == [task.pk]
    assert [message.to for message in mail.outbox] == [[compliance_user.email]]
    assert request.reference in mail.outbox[0].subject
    assert customer.email not in mail.outbox[0].body  # staff e-mails carry references only
    assert maintenance.remind_manual_tasks() == []  # not again within the period


def test_tasks_waiting_for_a_service_are_not_reminded_as_manual_steps(customer, settings):
    payment_provider()
    request = run_pending_tasks(file_request(type="access", user=customer))
    task = request.tasks.get(store__key="payment-provider")
    StoreTask.objects.filter(pk=task.pk).update(
        waiting_for="callback",
        started_at=timezone.now() - timedelta(hours=settings.DSR_MANUAL_REMINDER_HOURS + 1),
    )
    assert maintenance.remind_manual_tasks() == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"actions": ["erase"], "assigned_group": COMPLIANCE_GROUP}, "instructions must say"),
        (
            {
                "actions": ["erase"],
                "assigned_group": COMPLIANCE_GROUP,
                "instructions": {"erase": "do it"},
            },
            "instructions.erase",
        ),
        (
            {"actions": ["shred"], "assigned_group": COMPLIANCE_GROUP, "instructions": {}},
            "actions must list",
        ),
        (
            {"actions": ["erase"], "assigned_group": "Nobody", "instructions": INSTRUCTIONS},
            "existing staff group",
        ),
    ],
)
def test_validation_explains_what_is_wrong(config, message):
    with pytest.raises(ConfigurationError, match=message):
        ManualConnector.validate_config(config, {})


def test_a_step_cannot_go_to_a_group_whose_members_could_not_complete_it():
    from django.contrib.auth.models import Group

    from privacy_portal.permissions import SUPPORT_GROUP

    assert not Group.objects.get(name=SUPPORT_GROUP).permissions.filter(
        codename="change_manualstep"
    )
    config = {"actions": ["erase"], "assigned_group": SUPPORT_GROUP, "instructions": INSTRUCTIONS}
    with pytest.raises(ConfigurationError, match="may not complete manual steps"):
        ManualConnector.validate_config(config, {})


def test_a_store_is_asked_only_for_the_actions_its_configuration_lists(customer):
    payment_provider()
    carrier = add_store(
        "parcel-carrier",
        MANUAL,
        is_recipient=True,
        config={
            "actions": ["notify"],
            "assigned_group": COMPLIANCE_GROUP,
            "instructions": {"notify": "E-mail the carrier's privacy desk the request reference."},
        },
    )
    request = file_request(type="access", user=customer)
    assert not request.tasks.filter(store=carrier).exists()
    assert request.tasks.filter(store__key="payment-provider", action="export").exists()


def test_a_step_completed_meanwhile_by_someone_else_is_not_completed_twice(
    customer, compliance_user, compliance_client, monkeypatch
):
    from dsr import stores

    payment_provider()
    request = run_pending_tasks(
        dsr_request_approve(
            request=file_request(type="erasure", user=customer), actor=compliance_user
        )
    )
    task = request.tasks.get(store__key="payment-provider")
    colleague: Any = StaffFactory(group=COMPLIANCE_GROUP)
    complete = stores.manual_step_complete

    def after_a_colleague(**kwargs):
        # The colleague's completion commits between this page's load and its row lock.
        complete(task=StoreTask.objects.get(pk=task.pk), actor=colleague, note="Deleted it.")
        return complete(**kwargs)

    monkeypatch.setattr(stores, "manual_step_complete", after_a_colleague)
    response = compliance_client.post(
        f"/admin/dsr/manualstep/{task.pk}/change/", {"note": "Deleted it too."}, follow=True
    )

    assert response.status_code == 200
    assert "This step is not waiting for anyone." in response.content.decode()
    task.refresh_from_db()
    assert task.state == TaskState.SUCCEEDED
    assert (task.completed_by, task.note) == (colleague, "Deleted it.")
    assert (
        AuditEvent.objects.filter(
            action="dsr.task.completed_by_staff", object_id=str(task.pk)
        ).count()
        == 1
    )


def test_files_of_a_step_completed_meanwhile_do_not_replace_the_colleagues(
    customer, compliance_user
):
    """Two staff complete the same copy step with their files: the second, whose page was
    loaded before the first finished, is refused before any of their files is written."""
    from dsr.services import TransitionError
    from dsr.stores import manual_step_complete

    payment_provider()
    request = run_pending_tasks(file_request(type="access", user=customer))
    page_of_one = request.tasks.get(store__key="payment-provider")
    page_of_other = StoreTask.objects.get(pk=page_of_one.pk)  # loaded at the same time
    colleague: Any = StaffFactory(group=COMPLIANCE_GROUP)
    manual_step_complete(
        task=page_of_one,
        actor=colleague,
        note="Exported the profile.",
        data_files=[SimpleUploadedFile("first.csv", b"customer,cards\nfirst\n")],
    )
    with pytest.raises(TransitionError):
        manual_step_complete(
            task=page_of_other,
            actor=compliance_user,
            note="Exported it too.",
            data_files=[SimpleUploadedFile("second.csv", b"customer,cards\nsecond\n")],
        )

    archive = open_package(run_pending_tasks(request))
    names = archive.namelist()
    assert "stores/payment-provider/files/first.csv" in names
    assert not any(name.endswith("second.csv") for name in names)


def test_a_recipient_told_of_a_correction_is_told_what_to_correct(
    customer, compliance_user, compliance_client
):
    """The carrier's step (tell the recipient) shows staff what the person says is wrong, to
    pass on: a recipient told only that a correction was asked cannot make it."""
    add_store(
        "carrier",
        MANUAL,
        name="Parcel carrier",
        is_recipient=True,
        config={
            "actions": ["notify"],
            "assigned_group": COMPLIANCE_GROUP,
            "instructions": {"notify": "E-mail the carrier's privacy desk."},
        },
    )
    request = file_request(
        type="rectification", user=customer, details="My street is Lindenweg 5, not Lindenweg 3."
    )
    request = run_pending_tasks(dsr_request_approve(request=request, actor=compliance_user))
    # The carrier is told once Inper's own systems are corrected (here, by staff).
    assert not request.tasks.filter(store__key="carrier").exists()
    for step in request.tasks.filter(action="rectify", state=TaskState.WAITING):
        compliance_client.post(
            f"/admin/dsr/manualstep/{step.pk}/change/", {"note": "Street corrected."}
        )
    request = run_pending_tasks(request)
    task = request.tasks.get(store__key="carrier", action="notify")
    assert task.state == TaskState.WAITING
    page = compliance_client.get(f"/admin/dsr/manualstep/{task.pk}/change/").content.decode()
    assert "What the person says is wrong" in page
    assert "My street is Lindenweg 5, not Lindenweg 3." in page


def test_a_completed_correction_says_system_by_system_what_was_done(
    customer, compliance_user, compliance_client, django_capture_on_commit_callbacks
):
    """Where the data was corrected and which recipients were told (GDPR Art. 19): in the
    completion e-mail and on the person's page; the officer reaches the account to correct
    from the request's page."""
    from dsr.models import DataStore

    DataStore.objects.exclude(key="portal").update(enabled=False)
    if not DataStore.objects.filter(key="portal").exists():
        add_store("portal", "dsr.connectors.portal.PortalConnector", name="Inper Privacy Portal")
    add_store(
        "carrier",
        MANUAL,
        name="Parcel carrier",
        is_recipient=True,
        config={"actions": ["notify"], "assigned_group": COMPLIANCE_GROUP},
    )
    request = file_request(type="rectification", user=customer, details="Lindenweg 5, not 3.")
    request = run_pending_tasks(dsr_request_approve(request=request, actor=compliance_user))
    page = compliance_client.get(f"/dashboard/requests/{request.reference}/").content.decode()
    assert f'href="/admin/accounts/user/{customer.pk}/change/"' in page
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        # The correction first; then the carrier's step, planned once it is done.
        for _round in range(2):
            for task in request.tasks.filter(state=TaskState.WAITING):
                compliance_client.post(
                    f"/admin/dsr/manualstep/{task.pk}/change/", {"note": "Street corrected."}
                )
            request = run_pending_tasks(request)
    assert request.state == State.COMPLETED
    (done,) = [m for m in mail.outbox if m.to == [customer.email]]
    assert "What we did, system by system:" in done.body
    assert "- Inper Privacy Portal: corrected by our staff" in done.body
    assert "- Parcel carrier: told to correct what we shared with it" in done.body
    theirs = login(Client(), customer).get(f"/requests/{request.reference}/").content.decode()
    assert "What we did" in theirs and "told to correct what we shared with it" in theirs
