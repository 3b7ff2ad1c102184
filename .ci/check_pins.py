"""Check that every pinned runtime dependency is the newest patch release of its series.

pip-audit needs a vulnerability database this machine cannot reach, and would report a false
all-clear; security fixes arrive as patch releases, so the next best proof is that no pin lags
behind the newest patch of its own series (same major.minor; same major for calendar
versions). Reads requirements.txt; asks PyPI's JSON API; exits 1 naming each stale pin.

A patch released less than ``PIN_GRACE_DAYS`` (default 7) days ago is named as due, not as
stale: main does not turn red the day a release appears, and a pin left behind longer does.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)")


def pins(path: Path) -> list[tuple[str, str]]:
    found = []
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found.append((match.group(1), match.group(2)))
    return found


def series(version: Version) -> tuple[int, ...]:
    # Calendar versions (2026.10.1) move by month; their series is the year.
    if version.major >= 2000:
        return (version.major,)
    return (version.major, version.minor)


def newest_in_series(name: str, pinned: Version) -> tuple[Version, datetime] | None:
    """Return the newest release of ``pinned``'s series on PyPI and when it was published."""
    with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=20) as reply:
        data = json.load(reply)
    return newest_of(data["releases"], pinned)


def newest_of(
    releases: dict[str, list[dict[str, object]]], pinned: Version
) -> tuple[Version, datetime] | None:
    best: tuple[Version, datetime] | None = None
    for raw, files in releases.items():
        try:
            version = Version(raw)
        except InvalidVersion:
            continue
        if version.is_prerelease or not files or all(f.get("yanked") for f in files):
            continue
        if series(version) == series(pinned) and (best is None or version > best[0]):
            published = min(
                datetime.fromisoformat(str(f["upload_time_iso_8601"]).replace("Z", "+00:00"))
                for f in files
            )
            best = (version, published)
    return best


def verdicts(
    found: list[tuple[str, str, tuple[Version, datetime] | None]], *, now: datetime, grace: int
) -> tuple[list[str], list[str]]:
    """Split the pins behind their series' newest patch into stale (out for ``grace`` days or
    more) and due (newer)."""
    stale, due = [], []
    for name, raw, newest in found:
        if newest is None or newest[0] <= Version(raw):
            continue
        version, published = newest
        if now - published >= timedelta(days=grace):
            stale.append(f"{name}=={raw}: {version} is out since {published:%Y-%m-%d}")
        else:
            by = (published + timedelta(days=grace)).date()
            due.append(f"{name}=={raw}: {version} is out since {published:%Y-%m-%d}; due by {by}")
    return stale, due


def main() -> int:
    grace = int(os.environ.get("PIN_GRACE_DAYS", "7"))
    found = [
        (name, raw, newest_in_series(name, Version(raw)))
        for name, raw in pins(ROOT / "requirements.txt")
    ]
    stale, due = verdicts(found, now=datetime.now(UTC), grace=grace)
    for line in due:
        print(f"pin due for an update: {line}")
    for line in stale:
        print(f"stale pin: {line}")
    print(
        f"{len(found)} pins checked, {len(stale)} behind the newest patch of their series "
        f"for {grace} days or more, {len(due)} for less."
    )
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
