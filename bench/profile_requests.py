"""Profile the hot endpoints in one process: the consent read API and the banner save, called
through Django's WSGI handler exactly as gunicorn calls it (no HTTP parsing, no network).

    . bench/env.sh && .venv/bin/python bench/profile_requests.py [api|banner|all] [-n 2000]
        [--profile] [--queries]

Prints the CPU time per request (median of five batches) and, with ``--profile``, cProfile's
top functions; with ``--queries``, the SQL statements and cache calls of one request. Needs the
benchmark database (``bench/seed_ledger.py``) and the token it wrote.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacy_portal.settings.production")

import django

django.setup()

from django.core.cache import cache  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import User  # noqa: E402

TOKEN_FILE = Path(os.environ.get("TMPDIR", "/tmp")) / "inper-consent-bench-token"
handler = WSGIHandler()


def _environ(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8300",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8300",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    return environ


def _call(environ: dict[str, Any]) -> int:
    status: list[str] = []
    body = handler(environ, lambda s, h, exc_info=None: status.append(s))
    b"".join(body)
    if hasattr(body, "close"):
        body.close()
    return int(status[0].split()[0])


_first_customer: list[int] = []


def _api(customer: int) -> dict[str, Any]:
    token = TOKEN_FILE.read_text().strip()
    return _environ(
        "GET", f"/api/v1/consent/customers/{customer}/", {"Authorization": f"Bearer {token}"}
    )


def _customer() -> int:
    if not _first_customer:
        _first_customer.append(
            User.objects.filter(email__startswith="bench-").order_by("pk").values("pk")[0]["pk"]
        )
    return _first_customer[0] + random.randrange(10_000)


def api_hit_request() -> tuple[dict[str, Any], int]:
    """A read whose answer is in the shared cache (read once before)."""
    customer = _customer()
    _call(_api(customer))
    return _api(customer), 200


def api_miss_request() -> tuple[dict[str, Any], int]:
    """A read whose answer is not in the shared cache."""
    from consent.selectors import consent_current_keys

    customer = _customer()
    cache.delete_many(consent_current_keys(customer)[1:])
    return _api(customer), 200


def banner_request() -> tuple[dict[str, Any], int]:
    body = json.dumps(
        {
            "visitor_id": str(uuid.uuid4()),
            "choices": {
                "preferences": True,
                "analytics": random.random() < 0.5,
                "marketing": False,
            },
            "policy_version": 1,
            "language": "en",
        }
    ).encode()
    return _environ("POST", "/privacy/banner/choice", {"Content-Type": "text/plain"}, body), 201


MAKERS = {"api-hit": api_hit_request, "api-miss": api_miss_request, "banner": banner_request}


def measure(name: str, count: int, profile: bool) -> None:
    make = MAKERS[name]
    for _ in range(50):  # warm-up: imports, the catalogue, connections
        environ, expected = make()
        assert _call(environ) == expected, name
    batches = []
    profiler = cProfile.Profile() if profile else None
    for _ in range(5):
        requests = [make()[0] for _ in range(count // 5)]
        started = time.process_time()
        if profiler:
            profiler.enable()
        for environ in requests:
            _call(environ)
        if profiler:
            profiler.disable()
        batches.append((time.process_time() - started) * 1000 / len(requests))
    print(
        f"{name}: {statistics.median(batches):.2f} ms of CPU per request (batches: "
        + ", ".join(f"{b:.2f}" for b in batches)
        + ")"
    )
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(45)
        print(out.getvalue())


def queries(name: str) -> None:
    calls: list[str] = []
    client = cache._cache.get_client  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("cache client")
        return client(*args, **kwargs)

    environ, _expected = MAKERS[name]()
    cache._cache.get_client = counting  # type: ignore[attr-defined]
    with CaptureQueriesContext(connection) as captured:
        _call(environ)
    cache._cache.get_client = client  # type: ignore[attr-defined]
    print(f"{name}: {len(captured)} SQL statements, {len(calls)} cache round trips")
    for query in captured.captured_queries:
        print("   ", query["sql"][:160])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint", nargs="?", default="all", choices=["all", *MAKERS])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--queries", action="store_true")
    args = parser.parse_args()
    for name in MAKERS if args.endpoint == "all" else [args.endpoint]:
        if args.queries:
            queries(name)
        measure(name, args.n, args.profile)


if __name__ == "__main__":
    main()
