"""On PostgreSQL the portal's tables are exported with COPY: the package reads the same."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest

from accounts.models import Address
from consent import services as consent
from consent.models import Purpose
from dsr.connectors import pgcopy, portal
from dsr.models import State
from dsr.personal_data import OWN_ENTITIES
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
            assert list(csv.reader(io.StringIO(by_copy[name].decode()))) == list(
                csv.reader(io.StringIO(content.decode()))
            ), name

    account = list(csv.DictReader(io.StringIO(by_copy["account.csv"].decode())))
    assert account[0]["first_name"] == "'" + TRICKY  # kept as text in spreadsheets
    addresses = json.loads(by_copy["addresses.json"])
    assert {row["line1"] for row in addresses} == {"-5 Minus Road", 'Quote " and, comma\nnew line'}
    assert b"1 Other Street" not in b"".join(by_copy.values())
    # Times in ISO 8601 as PostgreSQL writes them: no trailing zeros in a fraction of a second.
    second = next(row for row in addresses if row["line1"].startswith("Quote"))
    assert second["created_at"] == "2026-01-02T03:04:05.12+00:00"
    assert second["updated_at"] == "2026-01-02T03:04:05+00:00"
    rows = list(csv.DictReader(io.StringIO(by_copy["addresses.csv"].decode())))
    assert {row["created_at"] for row in rows} >= {"2026-01-02T03:04:05.12+00:00"}


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
