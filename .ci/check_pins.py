"""Check that every pinned runtime dependency is the newest patch release of its series.

pip-audit needs a vulnerability database this machine cannot reach, and would report a false
all-clear; security fixes arrive as patch releases, so the next best proof is that no pin lags
behind the newest patch of its own series (same major.minor; same major for calendar
versions). Reads requirements.txt; asks PyPI's JSON API; exits 1 naming each stale pin.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
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


def newest_in_series(name: str, pinned: Version) -> Version | None:
    with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=20) as reply:
        data = json.load(reply)
    best = None
    for raw, files in data["releases"].items():
        try:
            version = Version(raw)
        except InvalidVersion:
            continue
        if version.is_prerelease or not files or all(f.get("yanked") for f in files):
            continue
        if series(version) == series(pinned) and (best is None or version > best):
            best = version
    return best


def main() -> int:
    stale = []
    checked = 0
    for name, raw in pins(ROOT / "requirements.txt"):
        pinned = Version(raw)
        newest = newest_in_series(name, pinned)
        checked += 1
        if newest is not None and newest > pinned:
            stale.append(f"{name}=={raw}: {newest} is out")
    for line in stale:
        print(f"stale pin: {line}")
    print(f"{checked} pins checked, {len(stale)} behind the newest patch of their series.")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
