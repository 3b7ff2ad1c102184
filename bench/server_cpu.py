"""Print the CPU seconds used so far by gunicorn (master and workers, including workers that
have exited) and by the PostgreSQL backends connected to one database, as ``gunicorn postgres``.

    python3 bench/server_cpu.py MASTER_PID DATABASE

Two readings around a wrk run, divided by its requests, give the server's CPU per request: a
figure that other work on a shared machine disturbs far less than requests per second. The
backends' figure counts only connections open at the reading (the portal keeps them open for
CONN_MAX_AGE), so it is approximate.
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


if __name__ == "__main__":
    print(f"{gunicorn_seconds(int(sys.argv[1])):.2f} {postgres_seconds(sys.argv[2]):.2f}")
