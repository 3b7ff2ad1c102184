"""Every dashboard URL and action, with every role. A new URL in the ``dashboard`` namespace
fails this test until its expected outcome per role is written down here."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import get_resolver, reverse

from dsr.models import DataSubjectRequest, State, StoreTask
from privacy_portal.audit.models import AuditEvent
from tests.conftest import login
from tests.dsr.helpers import add_store, file_request, run_pending_tasks

pytestmark = pytest.mark.django_db

# name: (method, arguments, POST data, the status an officer gets)
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any], int]] = {
    "queue": ("get", "", {}, 200),
    "search": ("post", "", {"term": "someone@example.com"}, 302),
    "request": ("get", "erasure", {}, 200),
    "progress": ("get", "erasure", {}, 200),
    "receipt": ("get", "done", {}, 200),
    "assign": ("post", "erasure", {"to": "me", "seen": ""}, 302),
    "verify": (
        "post",
        "erasure",
        {"verify-method": "staff_document", "verify-note": "Passport seen"},
        302,
    ),
    "approve": ("post", "erasure", {}, 302),
    "reject": ("post", "erasure", {"reject-reason": "identity"}, 302),
    "extend": ("post", "erasure", {"extend-reason": "Archive move"}, 302),
    "lift_restriction": ("post", "restriction", {"lift-reason": "Complaint settled"}, 302),
    "cancel": ("post", "erasure", {"cancel-how": "By phone, order number checked"}, 302),
    "note": ("post", "erasure", {"note-body": "A note"}, 302),
    "resend_link": ("post", "done", {}, 302),
    "answer_without_failed": ("post", "erasure", {}, 302),
    "preview": ("post", "erasure", {}, 302),
    "preview_panel": ("get", "erasure", {}, 200),
    "task_retry": ("post", "task", {}, 302),
    "task_done": ("post", "task", {}, 302),  # the note's field is named after the task
    "task_evidence": ("get", "task", {}, 200),
    "metrics": ("get", "", {}, 200),
    "metrics_csv": ("get", "metric", {}, 200),
    "yearly": ("get", "", {}, 200),
    "yearly_csv": ("get", "", {}, 200),
    "audit": ("get", "", {}, 200),
    "audit_csv": ("get", "", {}, 200),
    "audit_verify": ("post", "", {}, 302),
    "processing": ("get", "", {}, 200),
    "processing_csv": ("get", "", {}, 200),
    "retention": ("get", "", {}, 200),
    "retention_dry_run": ("post", "job", {}, 302),
}


def dashboard_names() -> set[str]:
    resolver = get_resolver()
    namespace_resolver = resolver.namespace_dict["dashboard"][1]
    return {name for name in namespace_resolver.reverse_dict if isinstance(name, str)}


def test_every_dashboard_url_has_an_expected_outcome():
    assert dashboard_names() == set(ENDPOINTS)


def _url(name: str, argument: str, target: Any) -> str:
    if argument in ("erasure", "done", "restriction"):
        return reverse(f"dashboard:{name}", args=[target.reference])
    if argument == "task":
        return reverse(f"dashboard:{name}", args=[target.pk])
    if argument == "metric":
        return reverse(f"dashboard:{name}", args=["volume"])
    if argument == "job":
        return reverse(f"dashboard:{name}", args=["redact_requests"])
    return reverse(f"dashboard:{name}")


ROLES = ("anonymous", "customer", "support", "compliance", "superuser")


def _target(argument: str, customer) -> Any:
    """Make what the URL's argument names: a request in review, a completed access request
    with its package, a completed restriction, or a failed store task with an evidence file."""
    from dsr.services import dsr_request_approve, dsr_request_verify_manually

    if argument == "erasure":
        return file_request(type="erasure", user=customer)
    if argument == "done":
        guest = file_request(type="access", email="done@example.com", channel="portal_guest")
        dsr_request_verify_manually(
            request=guest, actor=None, method="staff_document", note="Passport seen"
        )
        done = run_pending_tasks(
            dsr_request_approve(request=DataSubjectRequest.objects.get(pk=guest.pk), actor=None)
        )
        assert done.state == State.COMPLETED
        return done
    if argument == "restriction":
        restriction = file_request(type="restriction", user=customer)
        done = run_pending_tasks(dsr_request_approve(request=restriction, actor=None))
        assert done.state == State.COMPLETED
        return done
    if argument == "task":
        add_store(
            "flaky",
            "tests.dsr.connectors.FlakyConnector",
            config={"fail_times": 1, "permanent": True},
        )
        failing = run_pending_tasks(file_request(type="access", user=customer))
        task = failing.tasks.get(store__key="flaky")
        task.evidence.save("evidence.txt", ContentFile(b"proof"), save=True)
        return task
    return None


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_each_role_gets_what_it_should(request, role, name, customer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DSR_STORAGE_DIR = tmp_path / "dsr"
    method, argument, data, officer_status = ENDPOINTS[name]
    target = _target(argument, customer)
    if name == "task_done":
        StoreTask.objects.filter(pk=target.pk).update(state="waiting")
        # A copy step: nothing found there, as the officer says.
        data = {f"done-{target.pk}-note": "Done by hand", f"done-{target.pk}-nothing_held": "on"}
    url = _url(name, argument, target)
    client = Client()
    if role != "anonymous":
        fixture = {"support": "support_user", "compliance": "compliance_user"}.get(role, role)
        login(client, request.getfixturevalue(fixture), mfa=role != "customer")
    events = AuditEvent.objects.count()

    response = getattr(client, method)(url, data)

    if role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    elif role in ("customer", "support"):
        assert response.status_code == 403
    else:
        assert response.status_code == officer_status, response.content.decode()[:500]
    if role in ("anonymous", "customer", "support"):
        # Nothing was done, and nothing about the person was shown.
        assert AuditEvent.objects.count() == events
        assert customer.email not in response.content.decode()


def test_staff_must_have_used_their_second_factor(compliance_user, support_user):
    client = login(Client(), compliance_user, mfa=False)
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    from tests.factories import StaffFactory

    newcomer = StaffFactory(group="Compliance officer", totp=False)
    response = login(Client(), newcomer).get("/dashboard/")
    assert response["Location"].startswith("/accounts/2fa/totp/activate/")
    # Support never gets as far as the second factor: the role decides first.
    assert login(Client(), support_user, mfa=False).get("/dashboard/").status_code == 403


def test_the_nav_link_shows_for_officers_only(compliance_client, support_client, customer_client):
    assert 'href="/dashboard/"' in compliance_client.get("/").content.decode()
    assert 'href="/dashboard/"' not in customer_client.get("/").content.decode()
