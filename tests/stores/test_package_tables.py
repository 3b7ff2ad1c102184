"""Tables written into an access package: the same JSON and CSV whatever the batch size, and
cells a spreadsheet would run as formulas kept as text."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dsr.packages import PartSink
from privacy_portal import crypto
from tests.dsr.helpers import read_part_file


def test_large_tables_are_written_as_json_and_csv_across_batches(tmp_path, settings):
    settings.DSR_STORAGE_DIR = tmp_path
    key = crypto.new_stream_key()
    rows = [
        (
            n,
            f"=cmd{n}" if n % 7 == 0 else f"text {n}",
            -n,
            Decimal("1.50"),
            None,
            datetime(2025, 1, 2, tzinfo=UTC),
        )
        for n in range(1234)
    ]
    with PartSink(1, "shop", key) as sink:
        assert sink.table("orders", ["id", "note", "delta", "price", "gone", "at"], rows) == 1234
        assert sink.table("nothing", ["id"], []) == 0
        records = json.loads(read_part_file(sink.tmp / "orders.json.enc", key))
        raw = read_part_file(sink.tmp / "orders.csv.enc", key)
        # Marked as UTF-8 for spreadsheets that guess (Excel).
        assert raw.startswith(b"\xef\xbb\xbf")
        text = raw.decode("utf-8-sig")
        table = list(csv.reader(io.StringIO(text)))
        assert json.loads(read_part_file(sink.tmp / "nothing.json.enc", key)) == []

    assert len(records) == 1234 and records[7] == {
        "id": 7,
        "note": "=cmd7",
        "delta": -7,
        "price": "1.50",
        "gone": None,
        "at": "2025-01-02T00:00:00+00:00",
    }
    assert table[0] == ["id", "note", "delta", "price", "gone", "at"] and len(table) == 1235
    # A formula stays text; a number, also a negative one, stays the number.
    assert table[8] == ["7", "'=cmd7", "-7", "1.50", "", "2025-01-02T00:00:00+00:00"]
    assert table[2][1] == "text 1"


@pytest.mark.parametrize(
    ("cell", "guarded"),
    [
        ("+493012345678", False),  # a phone number, as the person gave it
        ("+44 20 7946 0958", False),
        ("+1 (555) 123-4567", False),
        ("-3.10", False),
        ('=HYPERLINK("http://x")', True),
        ("+cmd|' /C calc'!A0", True),
        ("-2+3+cmd|' /C calc'!A0", True),
        ("@SUM(A1)", True),
        ("-1\n=cmd", True),
        ("\t=1", True),
        ("Müller", False),
    ],
)
def test_only_what_a_spreadsheet_would_run_is_kept_as_text(cell, guarded):
    from privacy_portal.spreadsheet import formula_risk

    assert formula_risk(cell) is guarded


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("A" * 300 + ".csv", "A" * 116 + ".csv"),
        ("Kontoauszug März 2026.pdf", "Kontoauszug_März_2026.pdf"),
        ("Kontoauszug Ma\u0308rz.pdf", "Kontoauszug_März.pdf"),  # decomposed, as macOS writes it
        ("写真 1.jpg", "写真_1.jpg"),
        ("invoice\u202egpj.exe", "invoice_gpj.exe"),  # no right-to-left override
        ("a\u200bb\x00c.txt", "a_b_c.txt"),
        ("../../etc/passwd", "etc_passwd"),
        ("B" * 130, "B" * 120),
        ("x." + "y" * 200, ("x." + "y" * 200)[:120]),  # no extension worth keeping
        ("...", "item"),
    ],
)
def test_a_files_name_in_the_copy_is_safe_and_keeps_its_extension(name, safe):
    from dsr.packages import _safe_name

    assert _safe_name(name) == safe
