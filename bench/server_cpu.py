"""The server's CPU time per request: a figure that other work on a shared machine disturbs far
less than requests per second.

    python3 bench/server_cpu.py MASTER_PID DATABASE         # a reading: "gunicorn postgres"
    python3 bench/server_cpu.py per-request BEFORE AFTER N  # two readings, N requests between

A reading is the CPU seconds used so far by gunicorn (master and workers, including workers
that have exited) and by the PostgreSQL backends connected to DATABASE. The backends' figure
counts only connections open at the reading (the portal keeps them open for CONN_MAX_AGE), so
it is approximate.
"""

from __future__ import annotations

import os
import subprocess
import sys

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as file:
        return file.read().rsplit(")", 1)[1].split()


def _own(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])  # utime, stime


def _children(fields: list[str]) -> int:
    return int(fields[13]) + int(fields[14])  # cutime, cstime: children waited for


def gunicorn_seconds(master: int) -> float:
    fields = _stat(master)
    ticks = _own(fields) + _children(fields)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            child = _stat(int(entry))
        except OSError:
            continue
        if int(child[1]) == master:  # ppid
            ticks += _own(child)
    return ticks / TICKS


def postgres_seconds(database: str) -> float:
    pids = subprocess.run(
        [
            "psql",
            "-h",
            os.environ.get("PGHOST", "127.0.0.1"),
            "-U",
            os.environ.get("PGUSER", "postgres"),
            "-tAc",
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    ticks = 0
    for pid in pids:
        try:
            ticks += _own(_stat(int(pid)))
        except OSError:
            continue
    return ticks / TICKS


def per_request(before: str, after: str, count: int) -> str:
    gunicorn, postgres = (
        (float(a) - float(b)) * 1000 / count
        for a, b in zip(after.split(), before.split(), strict=True)
    )
    backends = f"{postgres:.2f} ms" if postgres >= 0 else "not measured (connections were replaced)"
    return f"server CPU per request: gunicorn {gunicorn:.2f} ms, its PostgreSQL backends {backends}"


if __name__ == "__main__":
    if sys.argv[1] == "per-request":
        print(per_request(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        print(f"{gunicorn_seconds(int(sys.argv[1])):.2f} {postgres_seconds(sys.argv[2]):.2f}")
