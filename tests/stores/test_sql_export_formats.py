"""On PostgreSQL the database encodes exports itself (COPY); the package must read the same as
when the portal encodes them row by row."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import sqlalchemy as sa

from dsr.connectors.base import Subject
from dsr.connectors.sql import SQLConnector
from dsr.packages import PartSink
from privacy_portal import crypto
from tests.dsr.helpers import read_part_file
from tests.stores.conftest import make_database, url_text

pytestmark = pytest.mark.django_db

CREATE = """
CREATE TABLE people (
  id serial PRIMARY KEY, email text, note text, amount numeric(10,2), ratio double precision,
  flag boolean, created timestamptz, day date, data jsonb, raw bytea, tags text[], ip inet,
  uid uuid, small smallint, stamped timestamp
)
"""
INSERT = """
INSERT INTO people (email, note, amount, ratio, flag, created, day, data, raw, tags, ip, uid, small,
  stamped)
VALUES
 ('a@example.com', '=HYPERLINK("x")', -3.10, 1.5, true, '2025-01-02 03:04:05.123456+00',
  '2025-01-02', '{"k": [1, "ü"]}', '\\x0001ff', ARRAY['x','y,z'], '10.1.2.3',
  '6c3f0a0e-8f7e-4a57-9d56-4cf7e0f6f2b1', -2, '2025-07-01 12:30:00'),
 ('a@example.com', E'line\\nbreak, "quoted" €', 12.00, -0.25, false, '2025-06-01 00:00:00+00',
  NULL, NULL, NULL, NULL, NULL, NULL, 7, NULL),
 ('a@example.com', '', NULL, NULL, NULL, '2025-06-01 12:00:00+00', NULL, 'null', NULL,
  '{}', NULL, NULL, NULL, '2025-12-24 18:00:00.5'),
 ('b@example.com', 'someone else', 1, 1, true, now(), NULL, NULL, NULL, NULL, NULL, NULL, 1,
  NULL)
"""


class RowByRow:
    """The package sink without its COPY entry point: the generic path."""

    def __init__(self, sink: PartSink) -> None:
        self.sink = sink

    def table(self, *args: Any, **kwargs: Any) -> int:
        return self.sink.table(*args, **kwargs)

    def file(self, *args: Any, **kwargs: Any) -> None:
        self.sink.file(*args, **kwargs)


def _contents(sink: PartSink, key: bytes) -> dict[str, Any]:
    def read(name: str, suffix: str) -> bytes:
        return read_part_file(sink.tmp / f"{name}.{suffix}.enc", key)

    return {
        entity["name"]: (
            json.loads(read(entity["name"], "json")),
            list(
                csv.reader(io.StringIO(read(entity["name"], "csv").decode("utf-8-sig"), newline=""))
            ),
            entity["records"],
        )
        for entity in sink.entities
    }


def test_copy_and_row_by_row_exports_read_the_same(tmp_path, settings):
    settings.DSR_STORAGE_DIR = tmp_path
    url = make_database("postgresql", tmp_path)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(CREATE))
            conn.execute(sa.text(INSERT))
        config = {
            "url": url_text(url),
            "time_zone": "Europe/Berlin",  # of its times without a zone ("stamped")
            "tables": {"people": {"identities": {"email": "email"}}},
        }
        store = SQLConnector(store_key="people", config=config, secrets={})
        subject = Subject(email="a@example.com")
        key = crypto.new_stream_key()
        with PartSink(1, "copy", key) as fast:
            assert store.export(subject, fast).counts == {"people": 3}
            copied = _contents(fast, key)
        with PartSink(1, "rows", key) as slow:
            store.export(subject, RowByRow(slow))
            generic = _contents(slow, key)
        with PartSink(1, "none", key) as empty:
            assert store.export(Subject(email="nobody@example.com"), empty).counts == {}
            assert empty.entities == []
    finally:
        engine.dispose()
        from dsr.demo import shop

        for cached in list(
            __import__("dsr.connectors.sql", fromlist=["_engines"])._engines.values()
        ):
            if cached.url.database == url.database:
                cached.dispose()
        shop.drop_database(url)

    json_fast, csv_fast, count_fast = copied["people"]
    json_slow, csv_slow, count_slow = generic["people"]
    assert count_fast == count_slow == 3
    by_id = lambda records: sorted(records, key=lambda record: record["id"])  # noqa: E731
    assert by_id(json_fast) == by_id(json_slow)
    assert csv_fast[0] == csv_slow[0]
    assert sorted(csv_fast[1:]) == sorted(csv_slow[1:])
    first = next(record for record in json_fast if record["amount"] == "-3.10")
    assert (
        first["note"] == '=HYPERLINK("x")'
        and first["raw"] == "0001ff"
        and first["tags"] == ["x", "y,z"]
    )
    assert first["created"] == "2025-01-02T03:04:05.123456+00:00"
    # Noon thirty in Berlin's summer, written in UTC as the times with their zone.
    assert first["stamped"] == "2025-07-01T10:30:00+00:00"
    # A formula stays text; a number, also a negative one, stays the number.
    row = next(row for row in csv_fast[1:] if row[3] == "-3.10")
    assert row[2] == '\'=HYPERLINK("x")' and row[5] == "true" and row[13] == "-2"
