"""The embedded broker of ``make run``: kombu's filesystem transport, each message written
whole before a worker can see it.

kombu's own transport creates a message's file and then writes into it; a worker polling the
folder can take the file in between, read it empty, and stop on the JSON error (its consumer
treats that as unrecoverable: celery/kombu#1551), which stops the whole of ``make run``. Here a
message is written under a name no queue matches (it starts with a dot) and then renamed to its
own, which POSIX makes atomic within one folder: a worker sees the whole message or nothing.

``privacy_portal.celery`` makes this the transport of ``filesystem://`` URLs. The filesystem
broker is for one machine (development and the demo); production uses Redis.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu's stubs give the two classes above different signatures: this is the transport's.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        """Put ``payload`` on ``queue``: written in full, then given its queue's name."""
        # kombu's own name: the milliseconds first, so that the folder sorts in order.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"Cannot add file {name!r} to the queue's folder") from error


class Transport(filesystem.Transport):
    Channel = Channel
