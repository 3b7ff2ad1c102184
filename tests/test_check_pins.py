"""The pin check (.ci/check_pins.py): a pin behind its series' newest patch fails the build once
that patch has been out for the grace period, and is named as due before."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

from packaging.version import Version

SPEC = importlib.util.spec_from_file_location(
    "check_pins", Path(__file__).resolve().parent.parent / ".ci" / "check_pins.py"
)
assert SPEC and SPEC.loader
check_pins = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check_pins)


def _file(day: str, *, yanked: bool = False) -> dict[str, object]:
    return {"upload_time_iso_8601": f"{day}T10:00:00.000000Z", "yanked": yanked}


RELEASES = {
    "5.2.19": [_file("2026-11-04")],
    "5.2.20": [_file("2026-12-02"), _file("2026-12-03")],
    "5.2.21": [_file("2026-12-05", yanked=True)],
    "6.0.1": [_file("2026-12-01")],
    "5.2.22rc1": [_file("2026-12-05")],
}


def test_the_newest_patch_of_the_series_and_when_it_came_out():
    newest = check_pins.newest_of(RELEASES, Version("5.2.19"))
    assert newest == (Version("5.2.20"), datetime(2026, 12, 2, 10, tzinfo=UTC))


def test_a_patch_out_for_the_grace_period_fails_and_a_newer_one_is_only_due():
    newest = check_pins.newest_of(RELEASES, Version("5.2.19"))
    found = [("Django", "5.2.19", newest), ("celery", "5.6.0", None)]

    stale, due = check_pins.verdicts(found, now=datetime(2026, 12, 6, tzinfo=UTC), grace=7)
    assert stale == []
    assert due == ["Django==5.2.19: 5.2.20 is out since 2026-12-02; due by 2026-12-09"]

    stale, due = check_pins.verdicts(found, now=datetime(2026, 12, 9, 11, tzinfo=UTC), grace=7)
    assert stale == ["Django==5.2.19: 5.2.20 is out since 2026-12-02"] and due == []

    current = [("Django", "5.2.20", newest)]
    assert check_pins.verdicts(current, now=datetime(2027, 1, 1, tzinfo=UTC), grace=7) == ([], [])
