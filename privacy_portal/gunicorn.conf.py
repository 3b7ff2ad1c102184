"""gunicorn settings (``gunicorn -c privacy_portal/gunicorn.conf.py privacy_portal.wsgi``).

Values come from the environment so that one file serves every deployment. The access log
leaves out the client address and the query string, both of which can identify a person, and
masks in the path what ``privacy_portal.logs.scrub`` masks (the secrets of single-use links).

The defaults suit the portal's work, measured in ``bench/`` (docs/benchmarks.md): short
requests that spend most of their time in Python and a little waiting on PostgreSQL and Redis.

- One request per process at a time (``sync`` workers), two processes per core: the processes
  that wait on the database or the cache leave the cores to the others, and requests are served
  in the order they arrive (the kernel hands each connection to the next free process).
  gunicorn suggests one more; on two cores the fifth process cost more in switching between
  processes than it gained (every endpoint measured faster with four, its tail shorter).
  Threads inside a process wait on each other for Python's global lock: with four per
  process, a cached read's 99th percentile under 50 clients was six times its median; with
  one, under one and a half times.
- Sync workers expect a proxy in front that buffers requests and responses (nginx does by
  default), so that a slow client never holds a process; the portal already requires a
  TLS-terminating proxy. Without a buffering proxy, set ``GUNICORN_THREADS`` above 1 for
  threaded (``gthread``) workers, which also keep idle keep-alive connections.
- The application is loaded once, before the workers fork (``preload_app``): a worker that
  ``max_requests`` replaces starts at once instead of importing Django again (about a second
  of CPU each time, which at a thousand requests a second was a tenth of the machine).
"""

import multiprocessing
import os
import time
from typing import Any

from gunicorn.glogging import Logger

# Loopback unless told otherwise: the TLS proxy in front sets X-Forwarded-Proto, which a client
# reaching gunicorn directly could set too. The image listens on every address of its container
# (GUNICORN_BIND in the Dockerfile), which compose publishes on the host's loopback.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() not in ("0", "false", "no")
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (a leak stays small); the jitter keeps them from all restarting
# at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
# The workers' heartbeat files (gunicorn makes them with mkstemp and unlinks them at once): in
# memory, never on a disk that may stall (containers).
_SHM = "/dev/shm"  # noqa: S108  # nosec B108
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


class AccessLogger(Logger):
    """gunicorn's logger, giving the access log only the fields its format uses.

    gunicorn builds some twenty fields for every request (every request and response header
    among them) whatever the format prints: about a tenth of the time of a cached API read.
    A field the format does not list here is printed as "-".
    """

    _second = -1
    _stamp = ""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        from privacy_portal.logs import scrub  # the portal's package, loaded by then

        now = int(time.time())
        if now != self._second:  # the timestamp changes once a second
            self._stamp, self._second = time.strftime("[%d/%b/%Y:%H:%M:%S %z]"), now
        status = resp.status
        sent = getattr(resp, "sent", None)
        return {
            "t": self._stamp,
            "m": environ.get("REQUEST_METHOD"),
            "U": scrub(environ.get("PATH_INFO") or ""),
            "s": status.split(None, 1)[0] if isinstance(status, str) else status,
            "b": str(sent) if sent is not None else "-",
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
        }


logger_class = AccessLogger
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def when_ready(server: object) -> None:
    """Build what Django otherwise builds on a worker's first requests (the URL resolver, the
    translation catalogues) once in the master, so that every worker inherits it."""
    if not preload_app:
        return
    from django.conf import settings
    from django.urls import get_resolver
    from django.utils import translation

    get_resolver().resolve("/")
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Accept all")
