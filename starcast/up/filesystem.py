"""kombu's filesystem transport, with messages written atomically: the embedded broker of `up`.

kombu writes a message straight into its final file name, and a consumer polling the folder may
take the file before it is written: it then reads an empty message and the Celery worker dies
with a JSONDecodeError (seen in our tests). Here a message is written under a name consumers
ignore and renamed into place, so they see all of it or nothing.
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

TRANSPORT = "starcast.up.filesystem:Transport"


class Channel(filesystem.Channel):
    # kombu names this argument `payload` here and `message` in the base class.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)  # noqa: PTH118 - kombu's own layout
        # kombu takes files whose name after the first dot is "<queue>.msg": not this one.
        partial = os.path.join(self.data_folder_out, f".{name}.partial")  # noqa: PTH118
        try:
            with open(partial, "wb") as handle:  # noqa: PTH123
                handle.write(str_to_bytes(dumps(payload)))  # type: ignore[no-untyped-call]
            os.replace(partial, final)  # noqa: PTH105
        except OSError as error:
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel
