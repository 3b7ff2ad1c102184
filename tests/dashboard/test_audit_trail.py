"""The audit trail page: filters, the streamed export, and the chain's state."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection

from privacy_portal.audit.models import AuditEvent
from privacy_portal.audit.services import audit_record
from privacy_portal.audit.tasks import audit_chain_verify_task

pytestmark = pytest.mark.django_db


def test_filter_by_request_and_action(compliance_client, erasure, guest_access):
    response = compliance_client.get("/dashboard/audit/", {"reference": erasure.reference})
    events = response.context["events"]
    assert events and {e.scope for e in events} == {f"dsr.datasubjectrequest:{erasure.pk}"}
    response = compliance_client.get("/dashboard/audit/", {"action": "dsr.request.received"})
    assert {e.action for e in response.context["events"]} == {"dsr.request.received"}
    assert len(response.context["events"]) == 2
    # What each event recorded reads as the JSON it is kept as, not as Python's repr.
    page = response.content.decode()
    assert "&quot;type&quot;: &quot;erasure&quot;" in page and "{&#x27;" not in page


def test_staff_are_named_and_actions_read_in_words(compliance_client, compliance_user, erasure):
    """The officer who approved reads as on the request's page, not as "Person 6"; the
    action's code stays beneath its words. A period that ends before it starts is said so."""
    from dsr.services import dsr_request_approve

    dsr_request_approve(request=erasure, actor=compliance_user)
    page = compliance_client.get("/dashboard/audit/", {"reference": erasure.reference})
    text = " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())
    name = f"{compliance_user.first_name} {compliance_user.last_name}"
    assert f"{name} (Person {compliance_user.pk})" in text
    assert "Request received dsr.request.received" in text
    # The request by its reference, linked, and its id in the trail beside it.
    link = f'<a href="/dashboard/requests/{erasure.reference}/">{erasure.reference}</a>'
    assert link in page.content.decode()

    reversed_ = compliance_client.get(
        "/dashboard/audit/", {"since": "2026-12-05", "until": "2026-12-01"}
    )
    assert "The end is before the start." in reversed_.content.decode()
    assert reversed_.context["events"] == []  # not the whole trail, as if it were the result
    # Nor an empty one, and no export of a filter that cannot apply (it would save this page).
    assert "None shown until the filter is corrected." in reversed_.content.decode()
    assert "No events match." not in reversed_.content.decode()
    assert "/dashboard/audit/export.csv" not in reversed_.content.decode()
    # Every action the trail holds reads in words.
    assert "Request state changed" in text


def test_pages_go_back_by_sequence(compliance_client, settings):
    from dsr.dashboard import audit

    for i in range(audit.PAGE_SIZE + 5):
        audit_record(actor=None, action="test.event", target=("tests.thing", str(i)))
    first = compliance_client.get("/dashboard/audit/", {"action": "test."})
    assert len(first.context["events"]) == audit.PAGE_SIZE
    older = compliance_client.get(
        "/dashboard/audit/", {"action": "test.", "before": first.context["older"]}
    )
    assert len(older.context["events"]) == 5
    assert older.context["older"] is None


def test_the_export_streams_every_matching_event_and_is_audited(
    compliance_client, compliance_user, erasure
):
    expected = AuditEvent.objects.filter(scope=f"dsr.datasubjectrequest:{erasure.pk}").count()
    response = compliance_client.get(
        "/dashboard/audit/export.csv", {"reference": erasure.reference}
    )
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["seq", "occurred_at", "actor_type", "actor_id", "action"]
    assert len(rows) == 1 + expected
    assert erasure.email not in str(rows)
    export = AuditEvent.objects.get(action="audit.exported")
    assert export.actor_id == compliance_user.pk
    assert export.after == {"reference": erasure.reference}

    # An address typed into a text filter does not end up in the trail.
    compliance_client.get(
        "/dashboard/audit/export.csv",
        {"object_id": erasure.email, "action": "dsr.request.received"},
    )
    export = AuditEvent.objects.filter(action="audit.exported").latest("seq")
    assert export.after == {"object_id": "(text)", "action": "dsr.request.received"}
    assert erasure.email not in str(AuditEvent.objects.values_list("after", "before", "reason"))


def test_the_page_shows_an_intact_chain(compliance_client):
    audit_record(actor=None, action="test.thing", target=("tests.thing", "1"))
    assert "not been verified yet" in compliance_client.get("/dashboard/audit/").content.decode()
    audit_chain_verify_task()
    page = compliance_client.get("/dashboard/audit/").content.decode()
    assert "Verified: intact." in page
    last = AuditEvent.objects.exclude(action="audit.chain.verified").latest("seq")
    assert f'<code class="dash-anchor">{last.seq}:{last.hash}</code>' in page


def test_the_page_names_the_first_broken_link_after_tampering_in_sql(compliance_client, postgres):
    events = [
        audit_record(actor=None, action="test.thing", target=("tests.thing", str(i)))
        for i in range(4)
    ]
    victim = events[1]
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE audit_auditevent SET reason = 'forged' WHERE id = %s", [victim.pk])
        cursor.execute("SET session_replication_role = DEFAULT")

    audit_chain_verify_task()

    page = compliance_client.get("/dashboard/audit/").content.decode()
    assert "Broken." in page
    assert f"The first broken link is event #{victim.seq}" in page
    assert "content does not match its hash" in page


def test_verify_now_asks_a_worker(compliance_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = compliance_client.post("/dashboard/audit/verify/", follow=True)
    assert len(callbacks) == 1
    assert "being verified" in response.content.decode()
    assert AuditEvent.objects.filter(action="audit.chain.verify_requested").exists()


@pytest.mark.worker
def test_verify_now_runs_on_a_real_worker(celery_worker, compliance_user):
    from dsr.dashboard.audit import chain_state, chain_verify_start
    from tests.worker import wait_until

    audit_record(actor=None, action="test.thing", target=("tests.thing", "1"))
    chain_verify_start(actor=compliance_user)
    wait_until(lambda: chain_state().ok, message="the worker to verify the chain")
    assert chain_state().checked >= 2


def test_in_german_the_column_of_what_an_event_is_about_says_object_not_objection(
    compliance_client, compliance_user
):
    from django.utils import translation

    compliance_user.preferred_language = "de"
    compliance_user.save(update_fields=["preferred_language"])
    audit_record(actor=None, action="test.thing", target=("tests.thing", "1"))

    page = compliance_client.get("/dashboard/audit/").content.decode()

    assert '<th scope="col">Objekt</th>' in page
    assert "Widersprechen" not in page
    # The customer's button that objects to a use of their data keeps its verb.
    with translation.override("de"):
        assert translation.gettext("Object") == "Widersprechen"


def test_an_export_with_a_filter_it_cannot_apply_exports_nothing_and_says_which(
    compliance_client,
):
    """Not the whole trail in place of the few events asked for: the page, answered 400, says
    what to correct, and nothing was exported (so no export is recorded)."""
    audit_record(actor=None, action="test.thing", target=("tests.thing", "1"))
    for query, said in (
        ({"actor_id": "abc"}, "Enter a whole number."),
        ({"since": "2026-13-40"}, "Enter a valid date."),
        ({"since": "2026-12-02", "until": "2026-12-01"}, "The end is before the start."),
    ):
        response = compliance_client.get("/dashboard/audit/export.csv", query)
        assert response.status_code == 400 and not response.streaming
        page = response.content.decode()
        assert said in page and "test.thing" not in page
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_a_steps_error_is_said_in_words_beside_what_the_trail_keeps(compliance_client, customer):
    """The trail keeps an error as its message and values; the page also says it in words."""
    from dsr.services import dsr_task_retry
    from tests.dsr.helpers import add_store, file_request, run_pending_tasks

    add_store(
        "flaky", "tests.dsr.connectors.FlakyConnector", config={"fail_times": 1, "permanent": True}
    )
    held = run_pending_tasks(file_request(type="access", user=customer))
    dsr_task_retry(task=held.tasks.get(store__key="flaky"), actor=None)
    page = compliance_client.get("/dashboard/audit/", {"action": "dsr.task.retried"})
    text = " ".join(page.content.decode().split())
    assert "Had failed with: the test store refuses" in text


def test_each_change_reads_in_words_with_what_the_trail_stores_beside_it(
    compliance_client, compliance_user, erasure
):
    """An auditor reads "State: In review → Approved" and the store and officer by name, not
    ids in JSON; the stored values stay on the page, exactly as kept and exported."""
    from dsr.services import dsr_request_assign
    from tests.dsr.helpers import add_store

    store = add_store("crm-words", "tests.dsr.connectors.FlakyConnector", name="Group CRM")
    dsr_request_assign(request=erasure, assignee=compliance_user, actor=compliance_user)
    audit_record(
        actor=None,
        action="dsr.task.requeued",
        target=("dsr.storetask", "1"),
        scope=f"dsr.datasubjectrequest:{erasure.pk}",
        before={"state": "running"},
        after={"state": "queued", "store": store.pk, "action": "erase", "attempt": 2},
    )
    page = compliance_client.get("/dashboard/audit/", {"reference": erasure.reference})
    text = " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())
    name = f"{compliance_user.first_name} {compliance_user.last_name}"
    assert f"Assigned to: — → {name}" in text
    assert "State: Running → Queued" in text
    assert "Store: Group CRM" in text and "Step: Erase" in text and "Attempt: 2" in text
    # What the trail keeps, beside the words.
    assert f"&quot;store&quot;: {store.pk}" in page.content.decode()
