"""A private RabbitMQ node from Debian's rabbitmq-server: own ports, own data dir, own epmd.

Used by `starcast up` and by the tests. Nothing is shared with a system-wide broker: the node has
its own name, Erlang port mapper (epmd) on a private port, configuration, data and logs under one
directory, listens on loopback only, and is started and stopped by the process ids we spawned.
It can be stopped and started again on the same ports and data (the broker-restart test).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kombu.connection import Connection

from starcast.up.processes import ManagedProcess, WaitError, free_port, wait_until

logger = logging.getLogger(__name__)

# Where Debian's package (and RabbitMQ's generic-unix layout) put the upstream start script, which
# runs as the calling user; /usr/sbin/rabbitmq-server is a wrapper that switches to the
# `rabbitmq` system user and its system-wide directories.
SERVER_SCRIPTS: Final = (
    Path("/usr/lib/rabbitmq/bin/rabbitmq-server"),
    Path("/usr/local/lib/rabbitmq/bin/rabbitmq-server"),
)
SERVER_ENV: Final = "STARCAST_RABBITMQ_SERVER"
INSTALL_HINT: Final = "install it with `make system-deps` (hack/install-system-deps.sh)"
GUEST: Final = "guest"
EPMD_STOP_S: Final = 10.0


class RabbitMQError(RuntimeError):
    """The node could not be started or stopped; the message says why and where the log is."""


def find_rabbitmq_server() -> Path | None:
    """The upstream rabbitmq-server script, if RabbitMQ is installed."""
    override = os.environ.get(SERVER_ENV)
    candidates = [Path(override)] if override else list(SERVER_SCRIPTS)
    return next((path for path in candidates if path.is_file()), None)


@dataclass(frozen=True)
class RabbitMQPorts:
    amqp: int
    distribution: int
    epmd: int

    @classmethod
    def pick(cls) -> RabbitMQPorts:
        return cls(amqp=free_port(), distribution=free_port(), epmd=free_port())


class RabbitMQServer:
    """The node and its epmd, each a `ManagedProcess` writing to the one log at `log_path`."""

    def __init__(
        self,
        base_dir: Path,
        *,
        node_name: str = "starcast",
        ports: RabbitMQPorts | None = None,
        startup_timeout_s: float = 120.0,
        log_path: Path | None = None,
    ) -> None:
        script = find_rabbitmq_server()
        epmd = shutil.which("epmd")
        if script is None or epmd is None:
            raise RabbitMQError(f"rabbitmq-server is not installed: {INSTALL_HINT}")
        self.base_dir = base_dir
        self.node_name = node_name
        self.ports = ports or RabbitMQPorts.pick()
        self.startup_timeout_s = startup_timeout_s
        self.log_path = log_path or base_dir / "rabbitmq.log"
        environment = self._environment()
        self._epmd = ManagedProcess(
            f"epmd of RabbitMQ node {node_name}",
            [epmd, "-port", str(self.ports.epmd), "-address", "127.0.0.1"],
            environment,
            self.log_path,
        )
        self._server = ManagedProcess(
            f"RabbitMQ node {node_name}",
            [str(script)],
            environment,
            self.log_path,
            cwd=base_dir,
        )

    @property
    def url(self) -> str:
        return f"amqp://{GUEST}:{GUEST}@127.0.0.1:{self.ports.amqp}//"

    @property
    def running(self) -> bool:
        return self._server.alive

    @property
    def process(self) -> ManagedProcess:
        """The node's own process (the Erlang VM, beam.smp), for a supervisor to watch."""
        return self._server

    def start(self) -> None:
        """Start the node (and its epmd) and wait until it accepts AMQP logins."""
        if self.running:
            return
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        """Start the node (and its epmd) without waiting: it boots while the caller works."""
        self._prepare_dirs()
        if not self._epmd.alive:
            self._epmd.start()
        logger.info(
            "starting RabbitMQ node %s on 127.0.0.1:%d (data and log in %s)",
            self.node_name,
            self.ports.amqp,
            self.base_dir,
        )
        self._server.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the node gracefully (SIGTERM), or kill it after `timeout_s`. Keeps epmd and data."""
        self._server.stop(timeout_s)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the node and its epmd."""
        self.stop()
        self._epmd.stop(EPMD_STOP_S)

    def log_tail(self, lines: int = 30) -> str:
        return self._server.log_tail(lines)

    def _prepare_dirs(self) -> None:
        for name in ("home", "mnesia", "log", "plugins-expand"):
            (self.base_dir / name).mkdir(parents=True, exist_ok=True)
        (self.base_dir / "enabled_plugins").write_text("[].\n")
        (self.base_dir / "rabbitmq-env.conf").write_text("")
        (self.base_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.ports.amqp}\n"
            # Tests and demos run on machines with little free disk: don't block publishers
            # at the 50 MB default before the disk is really full.
            "disk_free_limit.absolute = 20MB\n"
        )

    def _environment(self) -> dict[str, str]:
        base = self.base_dir
        return {
            **os.environ,
            "HOME": str(base / "home"),  # the Erlang cookie lives here
            "ERL_EPMD_PORT": str(self.ports.epmd),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODENAME": f"{self.node_name}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.ports.amqp),
            "RABBITMQ_DIST_PORT": str(self.ports.distribution),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(base / "plugins-expand"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        }

    def accepts_connections(self, refusals: list[str] | None = None) -> bool:
        """Whether the node accepts an AMQP login now; the refusal is appended to `refusals`."""
        connection = Connection(self.url, connect_timeout=2)  # type: ignore[no-untyped-call]
        try:
            connection.connect()  # type: ignore[no-untyped-call]
            return True
        except (OSError, *connection.connection_errors) as error:
            if refusals is not None:
                refusals.append(f"{type(error).__name__}: {error}")
            return False
        finally:
            connection.release()  # type: ignore[no-untyped-call]

    def wait_until_ready(self) -> None:
        """Wait until the launched node accepts logins; RabbitMQError (node stopped) if not."""
        refusals: list[str] = []

        def accepts_connections() -> bool:
            return self.accepts_connections(refusals)

        try:
            wait_until(
                accepts_connections,
                f"connections accepted at {self.url}",
                [self._server],
                timeout_s=self.startup_timeout_s,
                poll_s=0.25,
            )
        except WaitError as error:
            self.stop(timeout_s=10)  # reaps what the node left in its process group
            last = f" (last refusal: {refusals[-1]})" if refusals else ""
            raise RabbitMQError(f"RabbitMQ did not start: {error}{last}") from error
        logger.info("RabbitMQ node %s ready at %s", self.node_name, self.url)
