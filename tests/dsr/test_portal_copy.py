"""On PostgreSQL the portal's tables are exported with COPY: the package reads the same."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from psycopg2 import DataError

from accounts.models import ADDRESS_FIELDS, PROFILE_FIELDS, Address
from consent import services as consent
from consent.models import Purpose
from dsr.connectors import pgcopy, portal
from dsr.models import State
from dsr.packages import PartSink
from dsr.personal_data import OWN_ENTITIES
from privacy_portal import crypto
from tests.dsr.helpers import file_request, open_package, run_pending_tasks
from tests.factories import AddressFactory, UserFactory

TRICKY = '=HYPERLINK("http://evil")'


@pytest.fixture
def subject(transactional_db, postgres):
    user = UserFactory(
        first_name=TRICKY,
        last_name="Ünïcødé 😀 \u202eeman\u200b",
        phone="+4915112345678",
        date_of_birth=date(1980, 2, 29),
    )
    AddressFactory(user=user, line1="-5 Minus Road", label="@home", is_default_shipping=True)
    second = AddressFactory(user=user, line1='Quote " and, comma\nnew line', region="\tTabbed")
    # Times whose microseconds end in zeros, or are none: PostgreSQL's own text differs there.
    Address.objects.filter(pk=second.pk).update(
        created_at=datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC),
        updated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    subject = consent.subject_for_user(user)
    purposes = list(Purpose.objects.filter(always_on=False).values_list("key", flat=True)[:3])
    for index, key in enumerate(purposes * 2):
        consent.consent_record(
            subject=subject,
            purpose_key=key,
            granted=bool(index % 2),
            source="preference_centre",
            actor=None,
            note="+note" if index == 1 else "",
        )
    other = UserFactory(email="someone.else@example.com")
    AddressFactory(user=other, line1="1 Other Street")
    return user


def _portal_files(request) -> dict[str, bytes]:
    archive = open_package(request)
    return {
        name.removeprefix("stores/portal/"): archive.read(name)
        for name in archive.namelist()
        if name.startswith("stores/portal/")
        # The person's own requests, and (in the second package) the first copy made for them.
        and not any(entity in name for entity in OWN_ENTITIES)
    }


def test_the_copy_export_matches_the_row_by_row_export(subject, monkeypatch):
    assert portal._copy_possible()  # outside a transaction, on PostgreSQL
    copied = run_pending_tasks(file_request(type="access", user=subject))
    assert copied.state == State.COMPLETED
    monkeypatch.setattr(portal, "_copy_possible", lambda: False)
    generic = run_pending_tasks(file_request(type="access", user=subject))
    assert generic.state == State.COMPLETED

    by_copy, by_rows = _portal_files(copied), _portal_files(generic)
    assert set(by_copy) == set(by_rows)
    assert {"account.csv", "addresses.json", "consent_history.csv"} <= set(by_copy)
    for name, content in by_rows.items():
        if name.endswith(".json"):
            assert json.loads(by_copy[name]) == json.loads(content), name
        else:
            assert list(csv.reader(io.StringIO(by_copy[name].decode("utf-8-sig")))) == list(
                csv.reader(io.StringIO(content.decode("utf-8-sig")))
            ), name

    account = list(csv.DictReader(io.StringIO(by_copy["account.csv"].decode("utf-8-sig"))))
    assert account[0]["first_name"] == "'" + TRICKY  # kept as text in spreadsheets
    addresses = json.loads(by_copy["addresses.json"])
    assert {row["line1"] for row in addresses} == {"-5 Minus Road", 'Quote " and, comma\nnew line'}
    assert b"1 Other Street" not in b"".join(by_copy.values())
    # Times in ISO 8601 as PostgreSQL writes them: no trailing zeros in a fraction of a second.
    second = next(row for row in addresses if row["line1"].startswith("Quote"))
    assert second["created_at"] == "2026-01-02T03:04:05.12+00:00"
    assert second["updated_at"] == "2026-01-02T03:04:05+00:00"
    rows = list(csv.DictReader(io.StringIO(by_copy["addresses.csv"].decode("utf-8-sig"))))
    assert {row["created_at"] for row in rows} >= {"2026-01-02T03:04:05.12+00:00"}


def test_a_portability_copy_holds_what_the_person_gave_by_copy_and_row_by_row(subject, monkeypatch):
    copied = run_pending_tasks(file_request(type="portability", user=subject))
    monkeypatch.setattr(portal, "_copy_possible", lambda: False)
    generic = run_pending_tasks(file_request(type="portability", user=subject))
    assert copied.state == generic.state == State.COMPLETED

    by_copy, by_rows = _portal_files(copied), _portal_files(generic)
    assert (
        set(by_copy)
        == set(by_rows)
        == {
            f"{entity}.{extension}"
            for entity in ("account", "addresses", "email_addresses", "consent_choices")
            for extension in ("csv", "json")
        }
    )
    for name in by_copy:
        if name.endswith(".json"):
            assert json.loads(by_copy[name]) == json.loads(by_rows[name]), name
    (account,) = json.loads(by_copy["account.json"])
    assert set(account) == {"email", *PROFILE_FIELDS} and account["first_name"] == TRICKY
    addresses = json.loads(by_copy["addresses.json"])
    assert set(addresses[0]) == set(ADDRESS_FIELDS) and len(addresses) == 2
    assert b"1 Other Street" not in b"".join(by_copy.values())
    choices = json.loads(by_copy["consent_choices.json"])
    assert choices and set(choices[0]) == {"purpose__key", "granted", "updated_at"}


def test_every_portable_field_is_an_exported_field():
    for declaration in portal.declarations():
        assert set(declaration.portable or ()) <= set(declaration.fields), declaration.entity


def test_rows_of_a_failed_copy_left_in_the_buffer_never_reach_the_part():
    part = io.BytesIO()
    with pytest.raises(RuntimeError), pgcopy.batched(part, size=64) as out:
        out.write(b"first row\n")
        raise RuntimeError("the copy broke off")
    # The other copy, still running in its thread, and the writer's own flush when collected.
    out.write(b"a row of the copy still running\n" * 4)
    out.close()
    assert part.getvalue() == b""

    part = io.BytesIO()
    with pgcopy.batched(part, size=64) as out:
        out.write(b"first row\n")
    assert part.getvalue() == b"first row\n"


def test_copies_shared_by_two_connections_keep_the_entities_order_and_stop_on_an_error(
    transactional_db, postgres, tmp_path, settings
):
    settings.PORTAL_VAR_DIR = tmp_path

    def numbers(name: str, count: int) -> pgcopy.EntityCopy:
        rows = f"SELECT g AS n FROM generate_series(1, {count}) AS g"  # noqa: S608
        as_json = f"SELECT row_to_json(r) FROM ({rows}) AS r"  # noqa: S608
        return pgcopy.EntityCopy(name, ["n"], None, rows, as_json)

    entities = [numbers("large", 50_000), numbers("small", 3), numbers("smaller", 1)]
    params = connection.get_connection_params()
    first, second = (connection.get_new_connection(params) for _ in range(2))
    try:
        key = crypto.new_stream_key()
        with PartSink(1, "portal", key) as sink, first.cursor() as one, second.cursor() as two:
            counts = pgcopy.copy_entities(
                raw_table=sink.raw_table, entities=entities, cursor=one, helper=two
            )
            assert counts == {"large": 50_000, "small": 3, "smaller": 1}
            assert [entity["name"] for entity in sink.entities] == ["large", "small", "smaller"]

        broken = [*entities[1:], pgcopy.EntityCopy("broken", ["n"], None, "SELECT 1/0", "SELECT 1")]
        for connection_ in (first, second):
            connection_.rollback()
        with (
            PartSink(2, "portal", key) as sink,
            first.cursor() as one,
            second.cursor() as two,
            pytest.raises(DataError),
        ):
            pgcopy.copy_entities(raw_table=sink.raw_table, entities=broken, cursor=one, helper=two)
        assert not sink.entities
        assert not sink.tmp.exists()
    finally:
        first.close()
        second.close()
