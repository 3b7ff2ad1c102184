"""The audit trail: hash-chained, refused by the database to change, verifiable."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from privacy_portal.audit.models import AuditEvent
from privacy_portal.audit.selectors import audit_chain_verify
from privacy_portal.audit.services import audit_record
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _events(n, actor=None):
    return [
        audit_record(actor=actor, action="test.thing", target=("tests.thing", str(i)))
        for i in range(n)
    ]


def test_events_are_chained_in_order():
    user = UserFactory()
    events = _events(3, actor=user)
    assert [e.seq for e in events] == [events[0].seq, events[0].seq + 1, events[0].seq + 2]
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert audit_chain_verify().ok


def test_verify_audit_command_passes_on_a_clean_chain(capsys):
    _events(5)
    call_command("verify_audit")
    assert "Audit chain OK" in capsys.readouterr().out


def test_the_database_refuses_updates_and_deletes(postgres):
    event = _events(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.reason == ""


@pytest.mark.parametrize(
    "table",
    [
        "audit_auditevent",
        "consent_consentevent",
        "consent_purposeversion",
        "consent_policyversion",
        "dsr_erasurerecord",
    ],
)
def test_the_database_refuses_to_truncate_what_is_append_only(postgres, table):
    """TRUNCATE skips row triggers: a statement trigger refuses it to every connection that
    did not set ``portal.allow_truncate`` (the test suite's own connections set it to flush)."""
    event = _events(1)[0]
    with connection.cursor() as cursor:
        cursor.execute("SHOW portal.allow_truncate")
        assert cursor.fetchone() == ("on",)
        refused = pytest.raises(DatabaseError, match="append-only: TRUNCATE refused")
        with refused, transaction.atomic():
            cursor.execute("SET LOCAL portal.allow_truncate = off")
            cursor.execute(f"TRUNCATE {table} CASCADE")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_tampering_in_sql_is_found_and_named(postgres):
    events = _events(4)
    victim = events[2]
    with connection.cursor() as cursor:
        # Only a database superuser can get past the trigger; the chain still tells.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE audit_auditevent SET action = 'test.forged' WHERE id = %s", [victim.pk]
        )
        cursor.execute("SET session_replication_role = DEFAULT")

    status = audit_chain_verify()
    assert not status.ok
    assert status.broken_seq == victim.seq and status.broken_id == victim.pk
    with pytest.raises(CommandError, match=f"seq={victim.seq} \\(id={victim.pk}\\)"):
        call_command("verify_audit")


def test_a_deleted_event_is_found(postgres):
    events = _events(3)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
        cursor.execute("SET session_replication_role = DEFAULT")
    status = audit_chain_verify()
    assert not status.ok and status.broken_seq == events[2].seq


def test_the_daily_check_runs_on_a_real_worker_and_records_its_outcome(celery_worker):
    from privacy_portal.audit.tasks import audit_chain_verify_task
    from tests.worker import wait_until

    _events(3)
    audit_chain_verify_task.delay()

    event = wait_until(
        lambda: AuditEvent.objects.filter(action="audit.chain.verified").first(),
        message="the worker to verify the chain",
    )
    assert event.after == {
        "ok": True,
        "checked": 3,
        "broken_seq": None,
        "anchor": f"{event.seq - 1}:{AuditEvent.objects.get(seq=event.seq - 1).hash}",
    }


def test_events_written_while_the_chain_is_verified_do_not_break_it(monkeypatch):
    from privacy_portal.audit import selectors

    _events(3)
    digest = selectors.event_digest
    written = []

    def digest_while_the_portal_works(event):
        if not written:  # a request is approved while the check walks the chain
            written.append(audit_record(actor=None, action="test.meanwhile", target=("t", "1")))
        return digest(event)

    monkeypatch.setattr(selectors, "event_digest", digest_while_the_portal_works)
    status = audit_chain_verify()
    assert written and status.ok, status.problem
    assert status.checked == 3

    monkeypatch.setattr(selectors, "event_digest", digest)
    assert audit_chain_verify().checked == 4


def test_an_event_beyond_the_chains_head_is_found(postgres):
    events = _events(2)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditchainhead SET seq = seq - 1, hash = %s", [events[0].hash])
    status = audit_chain_verify()
    assert not status.ok


def test_a_trail_rewritten_with_every_hash_recomputed_no_longer_matches_its_anchor(
    postgres, capsys, caplog
):
    """Whoever can write the database past its triggers can also recompute the chain: the
    check then finds it whole. An anchor taken earlier (printed by the check, logged daily)
    and kept elsewhere no longer matches."""
    import logging
    import re

    from privacy_portal.audit.services import event_digest
    from privacy_portal.audit.tasks import audit_chain_verify_task

    events = _events(3)
    call_command("verify_audit")
    out = capsys.readouterr().out
    anchor = re.search(r"Anchor \(keep it outside the database\): (\d+:[0-9a-f]{64})", out)[1]
    assert anchor == f"{events[-1].seq}:{events[-1].hash}"
    # The daily check logs its anchor (the command's check, recorded since, is its last event).
    recorded = AuditEvent.objects.get(action="audit.chain.verified")
    with caplog.at_level(logging.INFO, logger="privacy_portal.audit.tasks"):
        audit_chain_verify_task()
    logged = [r.anchor for r in caplog.records if r.getMessage() == "audit chain anchor"]
    assert logged[-1] == f"{recorded.seq}:{recorded.hash}"
    call_command("verify_audit", anchor=[anchor])
    assert "It matches the 1 anchor(s) given." in capsys.readouterr().out
    # The command's check is recorded as the daily one is: the officers' page shows it.
    checked = AuditEvent.objects.filter(action="audit.chain.verified").latest("seq")
    assert checked.after["ok"] is True and checked.after["anchor"]

    # Rewritten from the second event on, every hash after it recomputed, the head too.
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        previous = events[0].hash
        for event in AuditEvent.objects.filter(seq__gte=events[1].seq).order_by("seq"):
            if event.pk == events[1].pk:
                event.action = "test.forged"
            event.prev_hash = previous
            event.hash = event_digest(event)
            cursor.execute(
                "UPDATE audit_auditevent SET action = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [event.action, event.prev_hash, event.hash, event.pk],
            )
            previous = event.hash
        cursor.execute("UPDATE audit_auditchainhead SET hash = %s WHERE id = 1", [previous])
        cursor.execute("SET session_replication_role = DEFAULT")
    assert audit_chain_verify().ok  # whole, as far as the chain alone can tell

    with pytest.raises(CommandError, match="has another hash than the anchor"):
        call_command("verify_audit", anchor=[anchor])
    for wrong, said in (("12:abc", "not an anchor"), (f"999999:{'0' * 64}", "is missing")):
        with pytest.raises(CommandError, match=said):
            call_command("verify_audit", anchor=[wrong])
