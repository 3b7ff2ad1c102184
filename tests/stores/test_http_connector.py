"""The HTTP connector and the callbacks of its protocol, against real servers on loopback."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from django.core import mail

from dsr import callbacks
from dsr.connectors.base import (
    ConfigurationError,
    Pending,
    PermanentStoreError,
    Subject,
    TaskContext,
    TemporaryStoreError,
)
from dsr.connectors.http import (
    HTTPConnector,
    sign,
    signature_valid,
    signed_headers,
)
from dsr.demo import services
from dsr.models import State, TaskState
from dsr.services import dsr_request_approve
from privacy_portal.audit.models import AuditEvent
from tests.dsr.helpers import add_store, file_request, open_package, run_pending_tasks
from tests.stores.conftest import MemorySink
from tests.stores.servers import Answer, ScriptedServer, demo_services, done
from tests.worker import wait_until

SECRET = "a-shared-secret-of-at-least-32-characters"
ANNA = "anna.schmidt@example.com"


def http_store(url: str, **config):
    store = add_store(
        "newsletter",
        "dsr.connectors.http.HTTPConnector",
        name="Newsletter platform",
        config={"url": url, **config},
    )
    store.set_secrets({"signing_secret": SECRET})
    store.save()
    return store


def connector(url: str, *, context: TaskContext | None = None, **config) -> HTTPConnector:
    return HTTPConnector(
        store_key="newsletter",
        config={"url": url, **config},
        secrets={"signing_secret": SECRET},
        context=context,
    )


@pytest.fixture
def newsletter(tmp_path):
    path = tmp_path / "services.sqlite3"
    services.fill(path, [services.Subscriber(ANNA, "Anna", campaigns=3)], others=5)
    with demo_services(path, {"newsletter": SECRET, "group-crm": SECRET}) as base:
        yield base, path


def test_searching_and_exporting_are_answered_at_once(newsletter):
    base, _path = newsletter
    store = connector(f"{base}/newsletter/dsr")
    assert store.health_check().ok
    assert dict(store.locate(Subject(email=ANNA)).counts) == {"subscriber": 1, "campaign_events": 6}
    sink = MemorySink()
    result = store.export(Subject(email=ANNA), sink)
    assert result.counts == {"subscriber": 1, "campaign_events": 6}
    (subscriber,) = sink.records("subscriber")
    assert (
        subscriber["email"] == ANNA and subscriber["consent_text_version"] == "newsletter-2025-03"
    )
    assert "customer1@example.net" not in repr(sink.tables)


def test_requests_are_signed_carry_the_tasks_key_and_only_the_configured_identities(customer):
    with ScriptedServer(done({"tables": [], "files": []})) as server:
        http_store(f"{server.url}/dsr", send_identities=["email"], actions=["export"])
        request = run_pending_tasks(file_request(type="access", user=customer))
    task = request.tasks.get(store__key="newsletter")
    assert task.state == TaskState.SUCCEEDED
    (received,) = server.received
    headers = {name.lower(): value for name, value in received.headers.items()}
    assert headers["idempotency-key"] == str(task.idempotency_key)
    assert signature_valid(
        [SECRET], headers["x-inper-timestamp"], received.body, headers["x-inper-signature"]
    )
    document = received.json()
    assert document["action"] == "export" and document["idempotency_key"] == str(
        task.idempotency_key
    )
    assert document["subject"] == {"email": customer.email}  # nothing it was not configured for
    assert document["request"] == {"reference": request.reference, "type": "access"}
    assert document["callback_url"].endswith("/api/v1/stores/callback/")


def _erasure_run(server: ScriptedServer, customer, officer):
    """Approve an erasure of ``customer`` with the newsletter at ``server``; run its tasks."""
    http_store(f"{server.url}/dsr", actions=["erase"])
    request = dsr_request_approve(
        request=file_request(type="erasure", user=customer), actor=officer
    )
    return run_pending_tasks(request, rounds=6)


def test_a_service_that_fails_twice_then_succeeds_is_retried(customer, compliance_user):
    erased = {"deleted": {"subscriber": 1}, "remaining": {"subscriber": 0}}
    with ScriptedServer(Answer(503), Answer(502), done(erased)) as server:
        request = _erasure_run(server, customer, compliance_user)
    task = request.tasks.get(store__key="newsletter")
    assert task.state == TaskState.SUCCEEDED and task.attempts == 3
    assert task.receipt["deleted"] == {"subscriber": 1}
    keys = {received.headers["Idempotency-Key"] for received in server.received}
    assert keys == {str(task.idempotency_key)}  # every retry is recognisably the same
    assert request.state == State.COMPLETED


@pytest.mark.parametrize("active", ["en", "de"])
def test_an_erasure_that_leaves_records_behind_is_not_done(
    customer, compliance_user, settings, active
):
    """An erasure whose check finds records left is tried again, then fails for staff; its
    error is in the portal's language, whatever a web request left active in the thread."""
    from django.utils import translation

    settings.DSR_TASK_MAX_ATTEMPTS = 2
    left = {"deleted": {"subscriber": 1}, "remaining": {"subscriber": 0, "campaign_events": 2}}
    with ScriptedServer(done(left)) as server, translation.override(active):
        request = _erasure_run(server, customer, compliance_user)
    task = request.tasks.get(store__key="newsletter")
    assert len(server.received) == 2  # tried again: an erasure is safe to repeat
    assert task.state == TaskState.FAILED and task.error_permanent
    assert "2 records that the erasure should have removed are still there" in task.error
    assert "(campaign_events)" in task.error and "Gave up after 2 attempts." in task.error
    assert request.state == State.WAITING  # for the officer to retry it or answer without it


def test_an_erasure_finished_on_a_later_attempt_completes(customer, compliance_user):
    left = {"deleted": {"subscriber": 1}, "remaining": {"subscriber": 1}}
    clean = {"deleted": {"subscriber": 1}, "remaining": {"subscriber": 0}}
    with ScriptedServer(done(left), done(clean)) as server:
        request = _erasure_run(server, customer, compliance_user)
    task = request.tasks.get(store__key="newsletter")
    assert task.state == TaskState.SUCCEEDED and task.attempts == 2
    assert task.receipt["remaining"] == {"subscriber": 0}
    assert request.state == State.COMPLETED


def test_a_service_that_keeps_failing_fails_clearly_after_the_attempt_limit(customer, settings):
    settings.DSR_TASK_MAX_ATTEMPTS = 3
    with ScriptedServer(
        Answer(503, {"error": {"code": "maintenance", "message": f"{ANNA} is locked"}})
    ) as server:
        http_store(f"{server.url}/dsr", actions=["export"])
        request = run_pending_tasks(file_request(type="access", user=customer), rounds=6)
    task = request.tasks.get(store__key="newsletter")
    assert task.state == TaskState.FAILED and task.error_permanent and task.attempts == 3
    assert "HTTP 503 (maintenance)" in task.error and "Gave up after 3 attempts." in task.error
    assert ANNA not in task.error  # the service's own words are never stored
    assert request.state == State.WAITING
    assert request.tasks.get(store__key="portal").state == TaskState.SUCCEEDED


def test_an_erasure_accepted_for_later_is_completed_by_the_signed_callback(
    newsletter, live_server, settings, transactional_db, django_user_model
):
    from privacy_portal.permissions import COMPLIANCE_GROUP
    from tests.factories import StaffFactory, UserFactory

    settings.DSR_CALLBACK_BASE_URL = live_server.url
    base, path = newsletter
    http_store(f"{base}/newsletter/dsr", actions=["locate", "export", "erase", "restrict"])
    anna = UserFactory(email=ANNA)
    officer = StaffFactory(group=COMPLIANCE_GROUP)
    request = dsr_request_approve(request=file_request(type="erasure", user=anna), actor=officer)
    request = run_pending_tasks(request)
    task = request.tasks.get(store__key="newsletter")
    assert task.state == TaskState.WAITING and task.waiting_for == "callback"
    assert task.external_reference.startswith("job-")

    wait_until(
        lambda: request.tasks.get(store__key="newsletter").state == TaskState.SUCCEEDED,
        message="the newsletter service's callback",
    )
    task.refresh_from_db()
    assert task.receipt["deleted"] == {"subscriber": 1, "campaign_events": 6}
    assert task.receipt["retained"][0]["entity"] == "suppression_list"
    with services.connect(path) as conn:
        assert (
            conn.execute("SELECT count(*) FROM subscribers WHERE email = ?", (ANNA,)).fetchone()[0]
            == 0
        )
    from dsr import engine

    engine.request_advance(request.pk)
    request.refresh_from_db()
    assert request.state == State.COMPLETED


@pytest.fixture
def waiting_task(customer, compliance_user):
    """An erasure task of the newsletter store waiting for the service's callback."""
    with ScriptedServer(Answer(202, {"status": "accepted", "reference": "job-1"})) as server:
        http_store(f"{server.url}/dsr", actions=["erase"])
        request = dsr_request_approve(
            request=file_request(type="erasure", user=customer), actor=compliance_user
        )
        request = run_pending_tasks(request)
    task = request.tasks.get(store__key="newsletter")
    assert task.state == TaskState.WAITING
    return task


def test_a_step_waiting_for_a_stores_callback_asks_no_one_to_do_it(
    customer, compliance_user, django_capture_on_commit_callbacks
):
    """Only steps for staff e-mail the officers "a manual step waits for you": a store that
    answers later by signed callback needs nobody."""
    with ScriptedServer(Answer(202, {"status": "accepted", "reference": "job-1"})) as server:
        http_store(f"{server.url}/dsr", actions=["erase"])
        with django_capture_on_commit_callbacks(execute=True):
            request = dsr_request_approve(
                request=file_request(type="erasure", user=customer), actor=compliance_user
            )
            request = run_pending_tasks(request)
    task = request.tasks.get(store__key="newsletter")
    assert task.state == TaskState.WAITING and task.waiting_for != "manual"
    assert not [m for m in mail.outbox if "a manual step waits" in m.subject]


def _callback(task, *, secret=SECRET, key=None, timestamp=None, document=None):
    key = key or str(task.idempotency_key)
    body = json.dumps(
        document
        or {
            "protocol": 1,
            "idempotency_key": key,
            "action": "erase",
            "status": "done",
            "result": {"deleted": {"subscriber": 1}, "remaining": {"subscriber": 0}},
        }
    ).encode()
    headers = signed_headers(secret, body, key)
    if timestamp is not None:
        headers["X-Inper-Timestamp"] = str(timestamp)
        headers["X-Inper-Signature"] = sign(secret, str(timestamp), body)
    return body, headers


def _post(client, body, headers):
    return client.generic(
        "POST",
        "/api/v1/stores/callback/",
        body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )


def _refusals(reason):
    return AuditEvent.objects.filter(action="dsr.callback.refused", reason=reason).count()


@pytest.mark.parametrize(
    ("tamper", "status", "reason", "audited"),
    [
        ({"secret": "someone-elses-secret-that-is-32-chars-long"}, 401, "bad_signature", 1),
        ({"timestamp": int(time.time()) - 3600}, 401, "stale_timestamp", 1),
        # Without a real task's key, anyone can post: refused and logged, not audited.
        ({"key": str(uuid.uuid4())}, 404, "unknown_idempotency_key", 0),
        ({"key": "not-a-key"}, 400, "missing_idempotency_key", 0),
    ],
)
def test_a_forged_stale_or_unknown_callback_is_refused(
    client, waiting_task, tamper, status, reason, audited
):
    events = AuditEvent.objects.count()
    body, headers = _callback(waiting_task, **tamper)
    response = _post(client, body, headers)
    assert response.status_code == status
    assert response.json() == {"error": {"code": reason}}
    assert _refusals(reason) == audited
    assert AuditEvent.objects.count() == events + audited
    waiting_task.refresh_from_db()
    assert waiting_task.state == TaskState.WAITING


def test_a_callback_is_recorded_once_and_a_replay_is_refused(client, waiting_task):
    body, headers = _callback(waiting_task)
    assert _post(client, body, headers).json() == {"status": "recorded"}
    waiting_task.refresh_from_db()
    assert waiting_task.state == TaskState.SUCCEEDED
    assert waiting_task.receipt["deleted"] == {"subscriber": 1}
    replay = _post(client, body, headers)
    assert replay.status_code == 409 and _refusals("not_waiting") == 1


def test_a_callback_that_does_not_follow_the_protocol_fails_the_task_for_staff(
    client, waiting_task
):
    key = str(waiting_task.idempotency_key)
    body, headers = _callback(
        waiting_task,
        document={
            "protocol": 1,
            "idempotency_key": key,
            "action": "erase",
            "status": "done",
            "result": {"deleted": {"subscriber": "all of them"}},
        },
    )
    assert _post(client, body, headers).status_code == 200
    waiting_task.refresh_from_db()
    assert waiting_task.state == TaskState.FAILED
    assert "does not follow the protocol (deleted.subscriber)" in waiting_task.error
    # A callback for another action than the task's is refused outright.
    body, headers = _callback(
        waiting_task,
        document={"protocol": 1, "idempotency_key": key, "action": "export", "status": "done"},
    )
    assert _post(client, body, headers).status_code in (400, 409)


def test_a_callback_reporting_records_left_after_the_erasure_fails_the_task(client, waiting_task):
    key = str(waiting_task.idempotency_key)
    body, headers = _callback(
        waiting_task,
        document={
            "protocol": 1,
            "idempotency_key": key,
            "action": "erase",
            "status": "done",
            "result": {"deleted": {"subscriber": 1}, "remaining": {"subscriber": 3}},
        },
    )
    assert _post(client, body, headers).status_code == 200
    waiting_task.refresh_from_db()
    assert waiting_task.state == TaskState.FAILED and waiting_task.error_permanent
    assert "3 records that the erasure should have removed" in waiting_task.error
    waiting_task.request.refresh_from_db()
    assert waiting_task.request.state != State.COMPLETED


def test_a_service_may_report_failure_by_callback(client, waiting_task):
    key = str(waiting_task.idempotency_key)
    body, headers = _callback(
        waiting_task,
        document={
            "protocol": 1,
            "idempotency_key": key,
            "action": "erase",
            "status": "failed",
            "error": {"code": "subscriber_locked", "message": f"{ANNA} is locked"},
        },
    )
    assert _post(client, body, headers).status_code == 200
    waiting_task.refresh_from_db()
    assert waiting_task.state == TaskState.FAILED and "subscriber_locked" in waiting_task.error
    assert ANNA not in waiting_task.error


def test_redirects_are_never_followed_to_another_host():
    with ScriptedServer() as elsewhere:
        with ScriptedServer(
            Answer(307, None, headers={"Location": f"{elsewhere.url}/steal"})
        ) as service:
            store = connector(f"{service.url}/dsr")
            with pytest.raises(PermanentStoreError) as raised:
                store.locate(Subject(email=ANNA))
        assert "redirect" in str(raised.value)
        assert elsewhere.received == []


def test_a_slow_service_times_out_as_a_temporary_error():
    with ScriptedServer(Answer(200, {"status": "done", "result": {}}, delay=2.5)) as slow:
        store = connector(f"{slow.url}/dsr", timeout_seconds=1)
        started = time.monotonic()
        with pytest.raises(TemporaryStoreError) as raised:
            store.locate(Subject(email=ANNA))
    assert time.monotonic() - started < 2.4
    assert "did not answer within 1 seconds" in str(raised.value)


def test_a_service_that_answers_a_little_at_a_time_times_out_too():
    answer = Answer(200, {"status": "done", "result": {"counts": {}}}, trickle=0.3)
    with ScriptedServer(answer) as slow:
        store = connector(f"{slow.url}/dsr", timeout_seconds=1)
        started = time.monotonic()
        with pytest.raises(TemporaryStoreError) as raised:
            store.locate(Subject(email=ANNA))
        assert time.monotonic() - started < 2.5
        assert not store.health_check().ok
    assert "did not answer within 1 seconds" in str(raised.value)


def test_an_unreachable_service_is_a_temporary_error_and_fails_its_health_check():
    store = connector("http://127.0.0.1:9/dsr")
    with pytest.raises(TemporaryStoreError):
        store.locate(Subject(email=ANNA))
    health = store.health_check()
    assert not health.ok and "cannot be reached" in health.detail


def test_an_oversized_or_malformed_answer_is_a_permanent_error():
    with ScriptedServer(Answer(200, raw=b"x" * 5000)) as server:
        store = connector(f"{server.url}/dsr", max_response_bytes=2048)
        with pytest.raises(PermanentStoreError, match="larger than 2048 bytes"):
            store.locate(Subject(email=ANNA))
    with (
        ScriptedServer(done({"counts": {"subscriber": -1}})) as server,
        pytest.raises(PermanentStoreError, match="protocol"),
    ):
        connector(f"{server.url}/dsr").locate(Subject(email=ANNA))


def test_a_202_is_a_pending_callback_only_inside_a_task():
    context = TaskContext(idempotency_key=str(uuid.uuid4()), action="erase")
    with ScriptedServer(Answer(202, {"status": "accepted", "reference": "job-9"})) as server:
        result = connector(f"{server.url}/dsr", context=context).erase(Subject(email=ANNA))
        assert (
            isinstance(result, Pending)
            and result.kind == "callback"
            and result.reference == "job-9"
        )
        with pytest.raises(PermanentStoreError):
            connector(f"{server.url}/dsr").locate(Subject(email=ANNA))


@pytest.mark.parametrize(
    ("config", "secrets", "message"),
    [
        ({"url": "https://newsletter.inper.example/dsr"}, {}, "signing_secret"),
        (
            {"url": "https://newsletter.inper.example/dsr"},
            {"signing_secret": "short"},
            "at least 32",
        ),
        (
            {"url": "http://newsletter.inper.example/dsr"},
            {"signing_secret": SECRET},
            "must use https",
        ),
        (
            {"url": "https://user:pw@newsletter.inper.example/dsr"},
            {"signing_secret": SECRET},
            "credentials",
        ),
        (
            {"url": "https://newsletter.inper.example/dsr?access_token=hunter2"},
            {"signing_secret": SECRET},
            "credentials",
        ),
        (
            {"url": "https://newsletter.inper.example/dsr?API-Key=hunter2&list=7"},
            {"signing_secret": SECRET},
            "credentials",
        ),
        ({"url": "ftp://newsletter.inper.example/"}, {"signing_secret": SECRET}, "http(s) address"),
        # Addresses no service can have: saved, they would fail only when a request runs.
        ({"url": "http://[::1]:99999/x"}, {"signing_secret": SECRET}, "not a valid address"),
        ({"url": "https://exa mple.com/"}, {"signing_secret": SECRET}, "not a valid address"),
        ({"url": "https://a..example/"}, {"signing_secret": SECRET}, "not a valid address"),
        (
            {"url": "https://169.254.169.254/latest/meta-data/"},
            {"signing_secret": SECRET},
            "link-local",
        ),
        ({"url": "https://[fe80::1]/dsr"}, {"signing_secret": SECRET}, "link-local"),
        (
            {"url": "https://n.inper.example/", "timeout_seconds": 600},
            {"signing_secret": SECRET},
            "1 to 120",
        ),
        (
            {"url": "https://n.inper.example/", "max_response_bytes": 10**12},
            {"signing_secret": SECRET},
            "at most 52428800 (50 MB)",
        ),
        (
            {"url": "https://n.inper.example/", "send_identities": ["passport"]},
            {"signing_secret": SECRET},
            "send_identities",
        ),
    ],
)
def test_validation_explains_what_is_wrong(config, secrets, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        HTTPConnector.validate_config(config, secrets)


@pytest.mark.parametrize(
    "url",
    [
        "https://crm:8443/dsr",  # a service of a private network, by its one-label name
        "http://newsletter_service:8010/dsr",
        "https://münchen.inper.example/dsr",
        "https://10.0.0.7/dsr",
        "http://[::1]:8010/dsr",
    ],
)
def test_addresses_of_private_networks_are_fine(url):
    HTTPConnector.validate_config(
        {"url": url, "allow_insecure_http": True}, {"signing_secret": SECRET}
    )


def test_an_access_request_includes_the_newsletter_record(newsletter, transactional_db):
    from tests.factories import UserFactory

    base, _path = newsletter
    http_store(f"{base}/newsletter/dsr", actions=["locate", "export", "erase", "restrict"])
    request = run_pending_tasks(file_request(type="access", user=UserFactory(email=ANNA)))
    assert request.state == State.COMPLETED
    archive = open_package(request)
    subscriber = json.loads(archive.read("stores/newsletter/subscriber.json"))
    assert subscriber[0]["email"] == ANNA


def test_signatures_cover_the_timestamp_and_the_body():
    assert signature_valid([SECRET], "100", b"{}", sign(SECRET, "100", b"{}"))
    assert not signature_valid([SECRET], "101", b"{}", sign(SECRET, "100", b"{}"))
    assert not signature_valid([SECRET], "100", b"{ }", sign(SECRET, "100", b"{}"))
    # While a secret is being replaced, either one is accepted.
    assert signature_valid(["new-secret", SECRET], "100", b"{}", sign(SECRET, "100", b"{}"))
    assert not signature_valid([""], "100", b"{}", sign("", "100", b"{}"))


def test_the_callback_endpoint_refuses_oversized_bodies(client, settings):
    settings.DSR_CALLBACK_MAX_BYTES = 1000
    response = client.post("/api/v1/stores/callback/", b"x" * 2000, content_type="application/json")
    assert response.status_code == 413
    assert client.get("/api/v1/stores/callback/").status_code == 405


def test_callback_service_checks_without_http(waiting_task):
    body, headers = _callback(waiting_task)
    outcome = callbacks.store_callback_receive(
        body=body,
        idempotency_key=headers["Idempotency-Key"],
        timestamp=headers["X-Inper-Timestamp"],
        signature=headers["X-Inper-Signature"],
    )
    assert outcome.accepted


def test_the_protocol_document_is_valid_json_httpx_can_send(newsletter):
    base, _path = newsletter
    response = httpx.post(
        f"{base}/newsletter/dsr", content=b"{}", headers={"X-Inper-Timestamp": "1"}
    )
    assert response.status_code == 401 and response.json()["error"]["code"] == "bad_signature"


def test_an_overdue_callback_is_asked_for_again_then_fails_for_staff(waiting_task, settings):
    from datetime import timedelta

    from django.utils import timezone

    from dsr.callbacks import callbacks_overdue
    from dsr.models import StoreTask

    later = timezone.now() + timedelta(seconds=settings.DSR_CALLBACK_TIMEOUT_SECONDS + 60)
    assert callbacks_overdue(now=later) == [waiting_task.pk]
    waiting_task.refresh_from_db()
    assert waiting_task.state == TaskState.QUEUED  # sent again, with the same key

    StoreTask.objects.filter(pk=waiting_task.pk).update(
        state=TaskState.WAITING, waiting_for="callback", attempts=waiting_task.max_attempts
    )
    assert callbacks_overdue(now=later) == [waiting_task.pk]
    waiting_task.refresh_from_db()
    assert (
        waiting_task.state == TaskState.FAILED and "did not post its result" in waiting_task.error
    )


def _restrict_done(task, *, lifted: bool) -> dict:
    """The callback of a service that did the ``restrict`` action of ``task``."""
    return {
        "protocol": 1,
        "idempotency_key": str(task.idempotency_key),
        "action": "restrict",
        "status": "done",
        "result": {"counts": {"subscriber": 1}, "lifted": lifted},
    }


def test_a_service_lifts_a_restriction_and_answers_by_callback(client, customer, compliance_user):
    """The lift is the protocol's ``restrict`` with ``{"lift": true}``, answered under that
    name: the portal's own name for the task is not the service's business."""
    from dsr.models import Action
    from dsr.services import dsr_restriction_lift

    restricted = done({"counts": {"subscriber": 1}, "lifted": False})
    accepted = Answer(202, {"status": "accepted", "reference": "job-9"})
    with ScriptedServer(restricted, accepted) as server:
        http_store(f"{server.url}/dsr", actions=["restrict"])
        request = run_pending_tasks(
            dsr_request_approve(
                request=file_request(type="restriction", user=customer), actor=compliance_user
            )
        )
        assert request.state == State.COMPLETED
        dsr_restriction_lift(request=request, actor=compliance_user, reason="Complaint settled.")
        request = run_pending_tasks(request)
    restrict, lift = (message.json() for message in server.received)
    assert (restrict["action"], restrict["options"]) == ("restrict", {"lift": False})
    assert (lift["action"], lift["options"]) == ("restrict", {"lift": True})
    task = request.tasks.get(store__key="newsletter", action=Action.LIFT)
    assert task.state == TaskState.WAITING and task.waiting_for == "callback"
    assert lift["idempotency_key"] == str(task.idempotency_key)

    assert (
        _post(client, *_callback(task, document=_restrict_done(task, lifted=True))).status_code
        == 200
    )
    request = run_pending_tasks(request)

    task.refresh_from_db()
    assert task.state == TaskState.SUCCEEDED and task.receipt["lifted"] is True
    assert request.restriction_lifted_at is not None


def test_a_service_that_answers_a_lift_with_the_restriction_in_force_has_not_lifted_it(
    client, customer, compliance_user
):
    """A service that ignores ``{"lift": true}`` (it answers ``"lifted": false``, the answer
    to a restriction) still blocks the person's data: the portal must not record the
    restriction as lifted there, nor tell the person it is lifted; the step fails for an
    officer to look into, by a direct answer as by a callback."""
    from dsr.models import Action, DataStore
    from dsr.services import dsr_restriction_lift, dsr_task_retry

    still_restricted = done({"counts": {"subscriber": 1}, "lifted": False})
    with ScriptedServer(still_restricted) as server:
        http_store(f"{server.url}/dsr", actions=["restrict"])
        request = run_pending_tasks(
            dsr_request_approve(
                request=file_request(type="restriction", user=customer), actor=compliance_user
            )
        )
        dsr_restriction_lift(request=request, actor=compliance_user, reason="Complaint settled.")
        request = run_pending_tasks(request)

    task = request.tasks.get(store__key="newsletter", action=Action.LIFT)
    assert task.state == TaskState.FAILED and task.error_permanent
    assert "still restricted" in task.error
    assert request.restriction_lifting and request.restriction_lifted_at is None

    # The same answer by callback, after the officer retried the step.
    accepted = Answer(202, {"status": "accepted", "reference": "job-9"})
    with ScriptedServer(accepted) as server:
        DataStore.objects.filter(key="newsletter").update(
            config={"url": f"{server.url}/dsr", "actions": ["restrict"]}
        )
        dsr_task_retry(task=task, actor=compliance_user)
        request = run_pending_tasks(request)
    task.refresh_from_db()
    assert task.state == TaskState.WAITING
    answer = _restrict_done(task, lifted=False)
    assert _post(client, *_callback(task, document=answer)).status_code == 200
    request = run_pending_tasks(request)
    task.refresh_from_db()
    assert task.state == TaskState.FAILED and "still restricted" in task.error
    assert request.restriction_lifted_at is None


def test_a_recipient_service_told_of_a_correction_receives_what_to_correct(
    customer, compliance_user
):
    """GDPR Art. 19: the correction itself goes to each recipient, not only that one was asked,
    once Inper's own systems are corrected (the portal's by staff), not before."""
    from dsr.models import Action
    from dsr.services import dsr_task_complete_manual

    with ScriptedServer(done({"reference": "CRM-7"}), done({"reference": "CRM-8"})) as server:
        store = http_store(f"{server.url}/dsr", actions=["notify"])
        store.is_recipient = True
        store.save()
        correction = file_request(
            type="rectification", user=customer, details="My phone is +49 30 1234567."
        )
        correction = run_pending_tasks(dsr_request_approve(request=correction, actor=None))
        assert correction.state == State.WAITING and server.received == []
        assert not correction.tasks.filter(action=Action.NOTIFY).exists()
        dsr_task_complete_manual(
            task=correction.tasks.get(action=Action.RECTIFY),
            actor=compliance_user,
            note="Phone number corrected in the profile",
        )
        correction = run_pending_tasks(correction)
        assert correction.state == State.COMPLETED
        erasure = file_request(type="erasure", user=customer)
        run_pending_tasks(dsr_request_approve(request=erasure, actor=None))
    corrected, erased = (message.json() for message in server.received)
    assert corrected["action"] == "notify"
    assert corrected["options"] == {
        "request_type": "rectification",
        "changes": {"details": "My phone is +49 30 1234567."},
    }
    assert erased["options"] == {"request_type": "erasure"}
