"""The portal served as in production: gunicorn with ``privacy_portal/gunicorn.conf.py``."""

from __future__ import annotations

import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = "privacy_portal/gunicorn.conf.py"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gunicorn_serves_the_portal_and_logs_no_address_or_query(tmp_path):
    port = _free_port()
    log = tmp_path / "access.log"
    # The default worker class (sync): GUNICORN_THREADS left unset.
    env = {
        **{key: value for key, value in os.environ.items() if key != "GUNICORN_THREADS"},
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESSLOG": str(log),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", CONF, "privacy_portal.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        body = b""
        for _ in range(100):
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz?email=someone%40example.com", timeout=2
                ) as response:
                    body = response.read()
                break
            except OSError:
                time.sleep(0.1)
        assert body == b"ok\n"
        for _ in range(50):
            if log.exists() and log.read_text():
                break
            time.sleep(0.1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _out, errors = server.communicate(timeout=30)

    line = log.read_text().strip().splitlines()[-1]
    assert re.fullmatch(
        r'\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /healthz" 200 3 \d+ms', line
    )
    assert "127.0.0.1" not in line and "example" not in line  # no address, no query string
    assert b"Booting worker" in errors and b"Traceback" not in errors


def test_gunicorn_listens_on_the_loopback_unless_told_otherwise(monkeypatch):
    """Only the TLS proxy on the same host should reach gunicorn: a client that could would
    claim https with X-Forwarded-Proto."""
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    assert runpy.run_path(str(ROOT / CONF))["bind"] == "127.0.0.1:8000"
    monkeypatch.setenv("GUNICORN_BIND", "10.0.0.5:8000")
    assert runpy.run_path(str(ROOT / CONF))["bind"] == "10.0.0.5:8000"
