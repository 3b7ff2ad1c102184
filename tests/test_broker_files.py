"""The embedded broker of ``make run`` (privacy_portal.broker_files): a worker reading the
queue's folder while another process writes to it never takes a message before it is whole."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from kombu import Connection

import privacy_portal.celery  # noqa: F401  (``filesystem://`` is the portal's transport)
from privacy_portal.broker_files import Transport

COUNT = 200
SIZE = 300_000  # large messages: a write takes long enough for a reader to meet it


def _options(folder: Path) -> dict[str, Any]:
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": 0,
    }


def _produce(options: dict[str, Any]) -> None:
    with Connection("filesystem://", transport_options=options) as connection:
        queue = connection.SimpleQueue("race")
        for number in range(COUNT):
            queue.put({"number": number, "body": "x" * SIZE})
        queue.close()


def test_filesystem_urls_use_the_portals_transport(tmp_path):
    with Connection("filesystem://", transport_options=_options(tmp_path)) as connection:
        assert isinstance(connection.transport, Transport)


def test_a_reader_never_takes_a_message_another_process_is_still_writing(tmp_path):
    options = _options(tmp_path)
    with Connection("filesystem://", transport_options=options) as connection:
        queue = connection.SimpleQueue("race")
        writer = multiprocessing.get_context("fork").Process(target=_produce, args=(options,))
        writer.start()
        try:
            seen = set()
            while len(seen) < COUNT:
                # A message read half-written would not decode: the reader would raise here.
                message = queue.get(timeout=60)
                assert len(message.payload["body"]) == SIZE
                seen.add(message.payload["number"])
                message.ack()
        finally:
            writer.join(timeout=60)
        queue.close()
    assert seen == set(range(COUNT)) and writer.exitcode == 0
    # Nothing is left behind, written or half-written.
    assert not list((tmp_path / "queue").iterdir())
