"""Which broker `starcast up` uses: the one named, a private RabbitMQ, or an embedded fallback."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from kombu.connection import Connection

from starcast.up import filesystem
from starcast.up.rabbitmq import INSTALL_HINT, RabbitMQServer, find_rabbitmq_server

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S: Final = 5
CONNECT_RETRIES: Final = 3


class BrokerUnreachableError(RuntimeError):
    """The broker named by STARCAST_BROKER_URL can't be reached."""


@dataclass(frozen=True)
class Broker:
    url: str
    description: str
    transport: str | None = None
    transport_options: dict[str, str | int | float | bool] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """The STARCAST_* variables that point a worker or frontend at this broker."""
        variables = {
            "STARCAST_BROKER_URL": self.url,
            "STARCAST_BROKER_TRANSPORT_OPTIONS": json.dumps(self.transport_options),
        }
        if self.transport is not None:
            variables["STARCAST_BROKER_TRANSPORT"] = self.transport
        return variables


@dataclass
class ProvidedBroker:
    """The broker of this run; a private node (`server`) may still be booting until `ready()`."""

    broker: Broker
    server: RabbitMQServer | None = None

    def ready(self) -> Broker:
        """The broker, once it accepts connections (RabbitMQError if the node never did)."""
        if self.server is not None:
            self.server.wait_until_ready()
        return self.broker


@contextmanager
def provide_broker(broker_url: str | None, logs_dir: Path) -> Iterator[ProvidedBroker]:
    """The broker for this run; whatever was started here is stopped on exit.

    A private RabbitMQ node is launched without waiting: it boots (seconds of Erlang start-up)
    while `up` loads or trains its model, and `ready()` waits for what is left of its boot.
    """
    if broker_url:
        _check_reachable(broker_url)
        yield ProvidedBroker(
            Broker(url=broker_url, description="the broker named by STARCAST_BROKER_URL")
        )
        return
    if find_rabbitmq_server() is not None:
        with tempfile.TemporaryDirectory(prefix="starcast-rabbitmq-") as data:
            server = RabbitMQServer(
                Path(data), node_name="starcast-up", log_path=logs_dir / "rabbitmq.log"
            )
            try:
                server.launch()
                yield ProvidedBroker(
                    Broker(
                        url=server.url,
                        description=f"a private RabbitMQ node on 127.0.0.1:{server.ports.amqp}",
                    ),
                    server,
                )
            finally:
                server.close()
        return
    logger.warning(
        "rabbitmq-server is not installed (%s); falling back to kombu's filesystem transport, "
        "an embedded broker for one machine that polls a directory: fine for a demo, "
        "slower, and not what a cluster runs",
        INSTALL_HINT,
    )
    with tempfile.TemporaryDirectory(prefix="starcast-broker-") as data:
        messages, control = Path(data) / "messages", Path(data) / "control"
        messages.mkdir()
        control.mkdir()
        yield ProvidedBroker(
            Broker(
                url="filesystem://",
                description="kombu's filesystem transport (embedded; rabbitmq-server not "
                "installed)",
                transport=filesystem.TRANSPORT,
                transport_options={
                    "data_folder_in": str(messages),
                    "data_folder_out": str(messages),
                    "control_folder": str(control),
                    "polling_interval": 0.01,
                },
            )
        )


def _check_reachable(url: str) -> None:
    """Fail in seconds with the reason, rather than leave workers retrying for ever."""
    connection = Connection(url, connect_timeout=CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
    try:
        connection.ensure_connection(  # type: ignore[no-untyped-call]
            max_retries=CONNECT_RETRIES, interval_start=0.5, interval_step=0.5, interval_max=1
        )
    except Exception as error:
        raise BrokerUnreachableError(
            f"cannot reach the broker named by STARCAST_BROKER_URL "
            f"({connection.as_uri()}): {error}"  # as_uri masks the password
        ) from error
    finally:
        connection.release()  # type: ignore[no-untyped-call]
