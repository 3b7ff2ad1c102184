"""Real HTTP servers on loopback for the connector tests: the demo services, and a scripted
server that answers what a test tells it to and records what it received."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from dsr.demo.services import serving


@dataclass
class Answer:
    status: int = 200
    document: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    #: Seconds between the bytes of the body (a service that answers a little at a time).
    trickle: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    """Answers each POST with the next scripted answer (the last one repeats)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers) or [Answer()]
        self.received: list[Received] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                server.received.append(Received(self.path, dict(self.headers.items()), body))
                index = min(len(server.received), len(server.answers)) - 1
                answer = server.answers[index]
                time.sleep(answer.delay)
                payload = (
                    answer.raw if answer.raw is not None else json.dumps(answer.document).encode()
                )
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with suppress(BrokenPipeError, ConnectionResetError):
                    if not answer.trickle:
                        self.wfile.write(payload)
                    for byte in payload if answer.trickle else b"":
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(answer.trickle)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def done(result: Any) -> Answer:
    return Answer(200, {"status": "done", "result": result})


@contextmanager
def demo_services(
    path: Path, secrets: dict[str, str], *, erase_delay: float = 0.3
) -> Iterator[str]:
    """Serve the demo services on an ephemeral loopback port; yield their base URL."""
    with serving(path, secrets, port=0, erase_delay=erase_delay) as base:
        yield base
