"""The demo world end to end, through a real Celery worker: a demo customer's access request
returns their data from every store, their erasure removes it (keeping orders anonymised
under the financial-records rule), and one store being down holds up only itself."""

from __future__ import annotations

import hashlib
import io
import json

import httpx
import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from accounts.models import User
from dsr import holdings
from dsr.demo import services, services_path, services_secrets, shop, uploads
from dsr.erasure import erasure_record_valid
from dsr.models import DataStore, DataSubjectRequest, ErasureRecord, State, StoreTask, TaskState
from dsr.services import dsr_request_answer_without_failed, dsr_request_approve, dsr_task_retry
from dsr.stores import manual_step_complete
from tests.dsr.helpers import file_request, manifest, open_package
from tests.stores.conftest import rows
from tests.worker import until_done_by_staff, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ANNA = "anna.schmidt@example.com"


def _state(request) -> str:
    request.refresh_from_db()
    return request.state


def complete_manual_steps(request, officer, *, files: dict[str, bytes] | None = None) -> list[str]:
    """Complete every manual step of ``request`` as ``officer`` would in the admin."""
    done = []
    for task in StoreTask.objects.filter(
        request=request, waiting_for="manual", state=TaskState.WAITING
    ):
        data = [SimpleUploadedFile(name, content) for name, content in (files or {}).items()]
        manual_step_complete(
            task=task,
            actor=officer,
            note=f"Done in {task.store.name} as instructed.",
            data_files=data if task.action == "export" else (),
            nothing_held=task.action == "export" and not data,
        )
        done.append(task.store.key)
    return done


def _store_statuses(user) -> dict[str, str]:
    """Search every store for ``user`` as "My data" does (on the worker); return each store's
    status."""
    holdings.holdings_refresh(user=user)
    found = wait_until(
        lambda: not holdings.holdings_of(user).checking and holdings.holdings_of(user),
        message="the store search",
    )
    return {holding.store.key: holding.status for holding in found.stores}


def _wait_for_the_staffs_steps(erasure) -> None:
    """Wait until only staff's steps are left: the automatic stores are done and the
    newsletter called back."""
    wait_until(
        lambda: (
            _state(erasure) == State.WAITING
            and not erasure.tasks.filter(waiting_for="callback", state=TaskState.WAITING).exists()
        ),
        timeout=60,
        message="the automatic stores and the newsletter's callback",
    )


def test_a_demo_customers_access_and_erasure_reach_every_store(demo_world, worker, tmp_path):
    anna = User.objects.get(email=ANNA)
    officer = User.objects.get(email="compliance@inper.example")

    # "My data" is searched by the worker, in the background.
    statuses = _store_statuses(anna)
    assert statuses["inper-shop"] == statuses["newsletter"] == statuses["uploads"] == "found"
    assert statuses["payment-provider"] == "by_staff"

    # Access: every store answers; the payment provider's step is done by staff.
    access = file_request(type="access", user=anna)
    wait_until(lambda: _state(access) == State.WAITING, timeout=60, message="the automatic stores")
    assert complete_manual_steps(
        access, officer, files={"psp-customer.csv": b"email,cards\nanna,1\n"}
    ) == ["payment-provider"]
    wait_until(lambda: _state(access) == State.COMPLETED, timeout=60, message="the access package")
    archive = open_package(access)
    names = set(archive.namelist())
    orders = json.loads(archive.read("stores/inper-shop/orders.json"))
    assert len(orders) == 5 and {order["email"] for order in orders} == {ANNA}
    assert (
        "stores/inper-shop/order_lines.csv" in names
        and "stores/inper-shop/browsing_events.json" in names
    )
    (subscriber,) = json.loads(archive.read("stores/newsletter/subscriber.json"))
    assert subscriber["email"] == ANNA
    photo = archive.read("stores/uploads/files/IMG_2041.jpg")
    assert Image.open(io.BytesIO(photo)).getexif()[ExifTags.Base.Model] == "EOS R6"
    assert archive.read("stores/payment-provider/files/psp-customer.csv").startswith(b"email,cards")
    assert json.loads(archive.read("stores/portal/account.json"))[0]["email"] == ANNA
    everything = "\n".join(
        archive.read(name).decode("utf-8", "replace") for name in names if not name.endswith(".jpg")
    )
    assert "ben.carter@example.com" not in everything and "@example.net" not in everything

    # Erasure: approved by an officer, run by the worker, staff do the manual steps.
    shop_url = demo_world
    anna_shop = rows(shop_url, shop.customers, shop.customers.c.email == ANNA)[0]["id"]
    anna_orders = [
        row["id"] for row in rows(shop_url, shop.orders, shop.orders.c.customer_id == anna_shop)
    ]
    lines = len(rows(shop_url, shop.order_lines, shop.order_lines.c.order_id.in_(anna_orders)))
    erasure = dsr_request_approve(request=file_request(type="erasure", user=anna), actor=officer)
    _wait_for_the_staffs_steps(erasure)
    assert sorted(complete_manual_steps(erasure, officer)) == [
        "google-analytics",
        "payment-provider",
    ]
    # Then the recipients are told: the carrier by a staff step (the shop held her orders).
    wait_until(
        lambda: erasure.tasks.filter(
            store__key="parcel-carrier", waiting_for="manual", state=TaskState.WAITING
        ).exists(),
        timeout=60,
        message="the carrier's step, once the erasure is done",
    )
    assert complete_manual_steps(erasure, officer) == ["parcel-carrier"]
    wait_until(lambda: _state(erasure) == State.COMPLETED, timeout=60, message="the erasure")

    receipts = {
        task.store.key: (task.action, task.receipt)
        for task in erasure.tasks.select_related("store")
    }
    assert receipts["group-crm"][0] == "notify" and receipts["group-crm"][1][
        "reference"
    ].startswith("CRM-")
    assert receipts["parcel-carrier"][0] == "notify" and receipts["parcel-carrier"][1]["manual"]
    shop_receipt = receipts["inper-shop"][1]
    assert shop_receipt["deleted"]["customers"] == 1 and shop_receipt["anonymised"]["orders"] == 5
    kept = {item["entity"]: item for item in shop_receipt["retained"]}
    assert kept["orders"]["count"] == 5 and "Financial records" in kept["orders"]["basis"]
    assert kept["order_lines"]["count"] == lines
    assert all(count == 0 for count in shop_receipt["remaining"].values())
    assert receipts["newsletter"][1]["deleted"]["subscriber"] == 1
    assert receipts["uploads"][1]["deleted"] == {"files": 3}
    record = ErasureRecord.objects.get(reference=erasure.reference)
    assert erasure_record_valid(record) and ANNA not in json.dumps(record.receipts)
    # The signed record holds the recipients told of it (GDPR Art. 19) and when staff did
    # their steps, not only what the stores erased.
    assert record.receipts["group-crm:notify"]["reference"].startswith("CRM-")
    assert record.receipts["parcel-carrier:notify"]["manual"]
    assert record.receipts["payment-provider"]["completed_at"]

    # Each store, read directly.
    assert rows(shop_url, shop.customers, shop.customers.c.email == ANNA) == []
    assert (
        rows(shop_url, shop.browsing_events, shop.browsing_events.c.customer_id == anna_shop) == []
    )
    assert rows(shop_url, shop.support_tickets, shop.support_tickets.c.email == ANNA) == []
    orders_now = rows(shop_url, shop.orders, shop.orders.c.id.in_(anna_orders))
    assert len(orders_now) == 5 and all(
        order["customer_id"] is None
        and order["shipping_address"] is None
        and order["email"] != ANNA
        for order in orders_now
    )
    assert (
        len(rows(shop_url, shop.order_lines, shop.order_lines.c.order_id.in_(anna_orders))) == lines
    )
    with services.connect(services_path()) as conn:
        assert (
            conn.execute("SELECT count(*) FROM subscribers WHERE email = ?", (ANNA,)).fetchone()[0]
            == 0
        )
        suppressed = hashlib.sha256(ANNA.encode()).hexdigest()
        assert (
            conn.execute(
                "SELECT count(*) FROM suppression_list WHERE email_sha256 = ?", (suppressed,)
            ).fetchone()[0]
            == 1
        )
        assert (
            conn.execute(
                "SELECT count(*) FROM notifications WHERE request_reference = ?",
                (erasure.reference,),
            ).fetchone()[0]
            == 1
        )
    assert not (settings.VAR_DIR / "demo" / "uploads" / uploads.folder_of(ANNA)).exists()
    assert (
        settings.VAR_DIR / "demo" / "uploads" / uploads.folder_of("ben.carter@example.com")
    ).exists()
    assert not User.objects.filter(email=ANNA).exists()
    assert rows(shop_url, shop.customers, shop.customers.c.email == "ben.carter@example.com")


def test_the_recipients_are_told_of_no_one_the_shop_never_held(demo_world, worker):
    """A stranger's erasure, recorded by phone: the carrier and the group CRM receive only the
    shop's customers, so neither is told of someone the shop never held, though the payment
    provider's staff step was done and the portal keeps the request as proof."""
    officer = User.objects.get(email="compliance@inper.example")
    erasure = dsr_request_approve(
        request=file_request(
            type="erasure",
            email="never.a.customer@example.com",
            channel="phone",
            actor=officer,
            identity_method="staff_document",
            identity_note="Passport seen",
        ),
        actor=officer,
    )
    _wait_for_the_staffs_steps(erasure)
    assert "payment-provider" in complete_manual_steps(erasure, officer)
    wait_until(lambda: _state(erasure) == State.COMPLETED, timeout=60, message="the erasure")
    told = erasure.tasks.filter(action="notify").values_list("store__key", flat=True)
    assert list(told) == []


def test_one_store_down_holds_up_only_itself_and_can_be_retried(demo_world, worker, settings):
    settings.DSR_TASK_MAX_ATTEMPTS = 2
    DataStore.objects.filter(connector="dsr.connectors.manual.ManualConnector").update(
        enabled=False
    )
    shop_store = DataStore.objects.get(key="inper-shop")
    working = dict(shop_store.config)
    shop_store.config = {**working, "url": "postgresql://postgres@127.0.0.1:1/shop"}
    shop_store.save()
    anna = User.objects.get(email=ANNA)

    access = file_request(type="access", user=anna)
    wait_until(
        lambda: (
            access.tasks.filter(store=shop_store, state=TaskState.FAILED).exists()
            and _state(access) == State.WAITING
        ),
        timeout=90,
        message="the other stores",
    )
    failed = access.tasks.get(store=shop_store)
    assert failed.state == TaskState.FAILED and failed.attempts == 2
    assert "cannot be reached" in failed.error and "Gave up after 2 attempts." in failed.error
    others = access.tasks.exclude(store=shop_store)
    assert {task.state for task in others} == {TaskState.SUCCEEDED}
    # The officer answers her now, without the shop's part.
    dsr_request_answer_without_failed(
        request=access, actor=User.objects.get(email="compliance@inper.example")
    )
    wait_until(
        lambda: _state(access) == State.PARTIALLY_COMPLETED, timeout=60, message="the answer"
    )
    archive = open_package(access)
    # Named as Anna reads it: her request is in German.
    assert json.loads(archive.read("manifest.json"))["incomplete_sources"] == ["Inper-Shop"]
    assert "stores/newsletter/subscriber.json" in archive.namelist()

    # Staff fix the store and retry: the request completes with the shop's data.
    shop_store.config = working
    shop_store.save()
    dsr_task_retry(task=failed, actor=User.objects.get(email="compliance@inper.example"))
    wait_until(lambda: _state(access) == State.COMPLETED, timeout=60, message="the retried store")
    assert "stores/inper-shop/orders.json" in open_package(access).namelist()


def test_demo_requests_reach_the_services_and_end_on_their_own_dates(demo_world, settings):
    """The demo requests are made before `make run` serves the portal: the services' deferred
    answers cannot call back, so the seeding asks again, as beat would; old requests complete
    when they are dated, not on the day the demo starts."""
    from datetime import timedelta

    from django.utils import timezone

    from dsr.dashboard.demo import seed_demo_requests
    from dsr.models import DataSubjectRequest

    settings.DSR_CALLBACK_BASE_URL = "http://127.0.0.1:9"  # nothing answers there
    assert seed_demo_requests(count=24) == 24
    now = timezone.now()
    old = DataSubjectRequest.objects.filter(
        received_at__lt=now - timedelta(days=15),
        state__in=(State.COMPLETED, State.RUNNING, State.WAITING),
    )
    assert old.count() > 8
    assert set(old.values_list("state", flat=True)) == {State.COMPLETED}
    completed = old.values_list("completed_at", flat=True)
    assert all(done < now - timedelta(days=1) for done in completed)
    newsletter = StoreTask.objects.filter(request__in=old, store__key="newsletter")
    assert newsletter.filter(action="erase").exists()
    assert set(newsletter.values_list("state", flat=True)) == {TaskState.SUCCEEDED}


def test_the_demo_requests_serve_the_services_themselves_when_nothing_does(settings, tmp_path):
    import socket

    from dsr.dashboard.demo import _demo_services_up

    settings.VAR_DIR = tmp_path / "var"
    services.fill(services_path(), [])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.DSR_DEMO_SERVICES_URL = f"http://127.0.0.1:{port}"
    with _demo_services_up():
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def _newsletter_row(email):
    with services.connect(services_path()) as conn:
        return conn.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()


def test_stopping_marketing_in_the_portal_unsubscribes_on_the_newsletter_platform(
    demo_world, worker, client
):
    """The platform is subscribed to the consent webhook: a withdrawal made in the preference
    centre reaches it through a real worker, signed; what the platform holds says so."""
    from consent.models import ConsentState, DeliveryStatus, WebhookDelivery
    from consent.signatures import signature_make

    ben = User.objects.get(email="ben.carter@example.com")
    # The platform's subscription is in the ledger, as the platform's (the portal's page shows
    # e-mail marketing on), and the platform knows Ben's customer number.
    state = ConsentState.objects.get(subject__user=ben, purpose__key="marketing_email")
    assert state.granted and state.source == "api"
    row = _newsletter_row(ben.email)
    assert row["customer_id"] == ben.pk and row["unsubscribed_at"] is None
    WebhookDelivery.objects.all().delete()  # the seed's own grants

    client.force_login(ben)
    response = client.post("/privacy/choices/stop-all-marketing/")
    assert response.status_code == 302

    delivery = WebhookDelivery.objects.get()
    wait_until(
        lambda: WebhookDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.DELIVERED
        ).exists(),
        message="the push delivered",
    )
    row = _newsletter_row(ben.email)
    assert row["unsubscribed_at"] and row["consent_event_id"] in delivery.event_ids
    # Nobody else's subscription changed.
    anna = _newsletter_row(ANNA)
    assert anna["unsubscribed_at"] is None and anna["consent_event_id"] is None

    # A forged push, and an old event pushed again, change nothing.
    old = {"id": 1, "customer_id": ben.pk, "purpose": "marketing_email", "granted": True}
    body = json.dumps({"events": [old]}).encode()
    base = settings.DSR_DEMO_SERVICES_URL
    forged = httpx.post(
        base + services.CONSENT_PATH,
        content=body,
        headers={"X-Inper-Signature": signature_make(b"not-the-secret", body)},
    )
    assert forged.status_code == 401
    secret = services_secrets()[services.NEWSLETTER_CONSENT].encode()
    replayed = httpx.post(
        base + services.CONSENT_PATH,
        content=body,
        headers={"X-Inper-Signature": signature_make(secret, body)},
    )
    assert replayed.status_code == 200 and replayed.json() == {"changed": 0}
    assert _newsletter_row(ben.email)["unsubscribed_at"] == row["unsubscribed_at"]


def _crm_restricted(email):
    with services.connect(services_path()) as conn:
        digest = hashlib.sha256(email.encode()).hexdigest()
        return bool(
            conn.execute(
                "SELECT 1 FROM crm_restrictions WHERE email_sha256 = ?", (digest,)
            ).fetchone()
        )


def test_an_objection_to_transfers_stops_them_in_the_united_states_for_review(demo_world, worker):
    """The privacy statement: one may object to transfers to other countries; the choice's
    text: the compliance team then reviews what can be kept inside the EEA. The group CRM
    restricts the record at once; Google Analytics is a step for the compliance team."""
    from consent.selectors import consent_current
    from consent.services import subject_for_user

    chloe = User.objects.get(email="chloe.martin@example.com")
    officer = User.objects.get(email="compliance@inper.example")
    objection = file_request(type="objection", user=chloe, purposes=("international_transfers",))
    objection.refresh_from_db()

    def waiting_for_staff():
        steps = StoreTask.objects.filter(
            request=objection, store__key="google-analytics", state=TaskState.WAITING
        )
        return steps.first()

    step = wait_until(waiting_for_staff, message="the analytics step")
    assert step.action == "restrict" and step.assigned_group == "Compliance officer"
    assert "excluded user ids" in step.instructions
    wait_until(lambda: _crm_restricted(chloe.email), message="the CRM restricted")
    assert not _crm_restricted(ANNA)
    assert not StoreTask.objects.filter(request=objection, store__key="newsletter").exists()

    manual_step_complete(task=step, actor=officer, note="Excluded in Google Analytics.")
    wait_until(lambda: _state(objection) == State.COMPLETED, message="the objection completed")
    choices = {c.purpose.key: c for c in consent_current(subject_for_user(chloe))}
    assert not choices["international_transfers"].granted

    # Chloe switches transfers on again: the CRM lifts its mark, and staff are asked to undo
    # their step in Google Analytics; nobody reviews it, and she is not told first.
    from django.test import Client

    from tests.conftest import login

    sent = len(mail.outbox)
    client = login(Client(), chloe)
    answer = client.post("/privacy/choices/international_transfers/", {"granted": "on"})
    assert answer.status_code == 302
    said = " ".join(str(m) for m in get_messages(answer.wsgi_request))
    assert objection.reference in said and "told that they may again" in said
    wait_until(lambda: not _crm_restricted(chloe.email), message="the CRM's mark lifted")
    undo = wait_until(
        lambda: StoreTask.objects.filter(
            request=objection,
            store__key="google-analytics",
            action="lift_restriction",
            state=TaskState.WAITING,
        ).first(),
        message="the analytics step to undo",
    )
    manual_step_complete(task=undo, actor=officer, note="Included again.")
    wait_until(
        lambda: DataSubjectRequest.objects.get(pk=objection.pk).restriction_lifted_at,
        message="the objection's marks lifted",
    )
    page = client.get(f"/requests/{objection.reference}/").content.decode()
    assert "You switched this use on again" in page and "as we told you by e-mail" not in page
    assert len(mail.outbox) == sent

    # A restriction restricts the CRM's record (which tells it): no separate notice.
    ben = User.objects.get(email="ben.carter@example.com")
    restriction = file_request(type="restriction", user=ben)
    dsr_request_approve(request=restriction, actor=officer)
    wait_until(lambda: _crm_restricted(ben.email), message="the CRM restricted")
    crm = StoreTask.objects.filter(request=restriction, store__key="group-crm")
    assert sorted(crm.values_list("action", flat=True)) == ["restrict"]


def test_a_customer_who_changed_their_address_is_erased_under_the_old_one_too(demo_world, worker):
    """The shop, the newsletter and the uploads know Ben by the address he gave them; after
    he changes it in the portal (allauth's real pages), "My data" still finds him there and
    his erasure reaches the records under the old address, which the portal keeps (for that)
    only as long as his account."""
    import re

    from django.core import mail
    from django.test import Client

    from accounts.models import FormerEmail
    from tests.conftest import login

    old, new = "ben.carter@example.com", "ben.c@example.org"
    ben = User.objects.get(email=old)
    client = login(Client(), ben, reauthenticated=True)
    client.post("/accounts/email/", {"email": new, "action_add": ""})
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body)
    assert client.post(link.group(1)).status_code == 302
    ben.refresh_from_db()
    assert ben.email == new
    assert list(FormerEmail.objects.filter(user=ben).values_list("email", flat=True)) == [old]

    statuses = _store_statuses(ben)
    assert statuses["inper-shop"] == statuses["newsletter"] == statuses["uploads"] == "found"

    officer = User.objects.get(email="compliance@inper.example")
    erasure = dsr_request_approve(request=file_request(type="erasure", user=ben), actor=officer)
    until_done_by_staff(erasure, lambda: complete_manual_steps(erasure, officer))

    receipts = {task.store.key: task.receipt for task in erasure.tasks.select_related("store")}
    assert receipts["inper-shop"]["deleted"]["customers"] == 1
    assert receipts["newsletter"]["deleted"]["subscriber"] == 1
    assert receipts["uploads"]["deleted"]["files"] >= 1
    assert rows(demo_world, shop.customers, shop.customers.c.email == old) == []
    with services.connect(services_path()) as conn:
        assert (
            conn.execute("SELECT count(*) FROM subscribers WHERE email = ?", (old,)).fetchone()[0]
            == 0
        )
    assert not (settings.VAR_DIR / "demo" / "uploads" / uploads.folder_of(old)).exists()
    assert not FormerEmail.objects.exists() and not User.objects.filter(pk=ben.pk).exists()
    # A restored backup is erased again under the old address too.
    record = ErasureRecord.objects.get(reference=erasure.reference)
    assert erasure_record_valid(record) and len(record.identity_hashes["former_emails"]) == 1
    assert old not in json.dumps(record.identity_hashes)


def test_a_portability_copy_holds_what_the_customer_provided_and_not_inpers_own_records(
    demo_world, worker
):
    anna = User.objects.get(email=ANNA)
    officer = User.objects.get(email="compliance@inper.example")
    request = file_request(type="portability", user=anna)
    wait_until(lambda: _state(request) == State.WAITING, timeout=60, message="the automatic stores")
    step = request.tasks.get(store__key="payment-provider", action="export")
    assert "portability request" in step.instructions
    complete_manual_steps(request, officer, files={"psp-customer.csv": b"email,cards\nanna,1\n"})
    wait_until(lambda: _state(request) == State.COMPLETED, timeout=60, message="the package")

    archive = open_package(request)
    names = set(archive.namelist())
    listed = {entry["path"]: entry["sha256"] for entry in manifest(archive)["files"]}
    for name, digest in listed.items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    # What Anna gave and did, in every store that holds it.
    (account,) = json.loads(archive.read("stores/portal/account.json"))
    assert account["email"] == ANNA and account["first_name"] == "Anna"
    assert "last_login" not in account and "date_joined" not in account
    addresses = json.loads(archive.read("stores/portal/addresses.json"))
    assert addresses and all("created_at" not in address for address in addresses)
    assert "stores/portal/consent_choices.json" in names
    orders = json.loads(archive.read("stores/inper-shop/orders.json"))
    assert len(orders) == 5 and all("processing_restricted" not in order for order in orders)
    assert "stores/inper-shop/browsing_events.json" in names
    (customer,) = json.loads(archive.read("stores/inper-shop/customers.json"))
    assert customer["email"] == ANNA and "processing_restricted" not in customer
    (subscriber,) = json.loads(archive.read("stores/newsletter/subscriber.json"))
    assert subscriber["email"] == ANNA and "consent_text_version" not in subscriber
    assert "stores/uploads/files/IMG_2041.jpg" in names
    assert "stores/payment-provider/files/psp-customer.csv" in names
    # Not Inper's own records: proof of consent, requests, security data.
    for own in ("consent_history", "privacy_requests", "sessions", "policy_notices_seen"):
        assert not any(f"/{own}." in name for name in names), own
    columns = json.loads(archive.read("data-dictionary.json"))["portal"]["entities"]["account"]
    assert "last_login" not in columns["columns"] and "email" in columns["columns"]
    # Anna's language is German: her letter explains the files, not the Art. 15 information.
    letter = archive.read("index.html").decode()
    assert "Ihre Daten zum Mitnehmen" in letter and "Wer sie erhält" not in letter
    everything = "\n".join(
        archive.read(name).decode("utf-8", "replace") for name in names if not name.endswith(".jpg")
    )
    assert "ben.carter@example.com" not in everything and "@example.net" not in everything

    # The same person's access copy still holds everything, with Inper's records.
    access = file_request(type="access", user=anna)
    wait_until(lambda: _state(access) == State.WAITING, timeout=60, message="the access stores")
    assert "portability" not in access.tasks.get(store__key="payment-provider").instructions
    complete_manual_steps(access, officer)
    wait_until(lambda: _state(access) == State.COMPLETED, timeout=60, message="the access copy")
    full = open_package(access)
    assert "stores/portal/consent_history.json" in full.namelist()
    assert "last_login" in json.loads(full.read("stores/portal/account.json"))[0]
    assert "Wer sie erhält" in full.read("index.html").decode()
