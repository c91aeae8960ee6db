"""The serving stack of `starcast up`: N workers and a frontend, started, supervised, stopped.

Start: workers first (each becomes ready once its model is verified), then the frontend, which
is ready once it reaches the broker and a worker answers. While it runs, a process that dies is
restarted (supervisor.py), and so is a private RabbitMQ node that `up` started. Stop: the
frontend first (in-flight requests finish while the workers are still there), then the workers
(their batches finish); the broker is stopped last, by whoever started it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Final

from starcast.artifact import ModelManifest
from starcast.up.broker import Broker
from starcast.up.processes import ManagedProcess, starcast_command, wait_until
from starcast.up.rabbitmq import RabbitMQServer
from starcast.up.settings import RunDirs, UpSettings
from starcast.up.supervisor import DEFAULT_POLICY, RestartPolicy, Supervisor

logger = logging.getLogger(__name__)

POLL_S: Final = 0.25
FRONTEND_STOP_S: Final = 20.0
WORKER_STOP_S: Final = 40.0
# Noise in a one-machine run, turned off on purpose:
QUIET_ENVIRONMENT: Final = {
    # Celery warns that a worker runs as root. `up` runs the workers as whoever ran `up` (root in
    # a container or CI), and they accept JSON only, never pickle: nothing a warning can fix.
    # Matched by the message's start, so no module is imported at interpreter start-up.
    "PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges",
}


@dataclass(frozen=True)
class StackUrls:
    home: str
    predictions: str
    api: str
    docs: str
    metrics: str

    @classmethod
    def at(cls, host: str, port: int) -> StackUrls:
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        base = f"http://{shown}:{port}"
        return cls(
            home=f"{base}/",
            predictions=f"{base}/predictions",
            api=f"{base}/api/v1/predict",
            docs=f"{base}/docs",
            metrics=f"{base}/metrics",
        )


class Stack:
    def __init__(
        self,
        settings: UpSettings,
        broker: Broker,
        model_uri: str,
        manifest: ModelManifest,
        listener: socket.socket,
        policy: RestartPolicy = DEFAULT_POLICY,
        *,
        broker_server: RabbitMQServer | None = None,
        run_dirs: RunDirs | None = None,
    ) -> None:
        self.settings = settings
        self.broker_server = broker_server  # a private node `up` started, supervised as well
        self.urls = StackUrls.at(settings.host, settings.port)
        dirs = run_dirs or RunDirs.new(settings.state_dir)
        self.logs_dir = dirs.logs
        self.supervisor = Supervisor(policy)
        self.run_dir = run_dir = dirs.ready
        common = {**os.environ, **broker.environment(), **QUIET_ENVIRONMENT}
        host = socket.gethostname()
        self.ready_files = [run_dir / f"worker-{index}.ready" for index in range(settings.workers)]
        self.workers = [
            ManagedProcess(
                f"worker-{index}",
                starcast_command("serve", "worker"),
                {
                    **common,
                    "STARCAST_MODEL_URI": model_uri,
                    "STARCAST_MODEL_SHA256": manifest.model_sha256,
                    "STARCAST_WORKER_READY_FILE": str(ready_file),
                    "STARCAST_WORKER_HOSTNAME": f"starcast-worker-{index}@{host}",
                },
                self.logs_dir / f"worker-{index}.log",
            )
            for index, ready_file in enumerate(self.ready_files)
        ]
        self.frontend = ManagedProcess(
            "frontend",
            starcast_command("serve", "frontend"),
            {
                **common,
                "STARCAST_HOST": settings.host,
                "STARCAST_PORT": str(settings.port),
                "STARCAST_LISTEN_FD": str(listener.fileno()),
                "STARCAST_MODEL_URI": model_uri,
                # Two batches per worker process: one running, one queued behind it, so the
                # worker never waits for a round trip; the rest of the load batches up in the
                # frontend meanwhile.
                "STARCAST_MAX_BATCHES_IN_FLIGHT": os.environ.get(
                    "STARCAST_MAX_BATCHES_IN_FLIGHT", str(2 * settings.workers)
                ),
            },
            self.logs_dir / "frontend.log",
            pass_fds=[listener.fileno()],
        )

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.frontend, *self.workers]

    def start(self) -> None:
        for ready_file in self.ready_files:
            ready_file.unlink(missing_ok=True)
        for worker in self.workers:
            worker.start()
        self._wait(
            lambda: all(path.exists() for path in self.ready_files), "the workers", self.workers
        )
        self.frontend.start()
        self._wait(self._frontend_ready, "the frontend", self.processes)
        for worker, ready_file in zip(self.workers, self.ready_files, strict=True):
            self.supervisor.watch(
                worker,
                before_restart=partial(ready_file.unlink, missing_ok=True),
                ready=ready_file.exists,
            )
        self.supervisor.watch(self.frontend, ready=self._frontend_ready)
        if self.broker_server is not None:
            # A node that dies is started again on the same ports and data; the workers and the
            # frontend reconnect by themselves, and the frontend sends again what it had in
            # flight. A node that keeps dying stops the stack (CrashLoopError, with its log).
            self.supervisor.watch(
                self.broker_server.process, ready=self.broker_server.accepts_connections
            )

    def supervise(self) -> None:
        """Keep every process running until Ctrl-C; CrashLoopError if one keeps dying."""
        self.supervisor.run()

    def stop(self) -> None:
        self.frontend.stop(FRONTEND_STOP_S)
        for worker in self.workers:  # all at once: they finish their batches in parallel
            if worker.alive:
                worker.terminate()
        for worker in self.workers:
            worker.stop(WORKER_STOP_S)
        with contextlib.suppress(OSError):  # the workers remove their ready files as they stop
            self.run_dir.rmdir()

    def _frontend_ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.urls.home + "readyz", timeout=5.0) as answer:
                return bool(answer.status == HTTPStatus.OK)
        except OSError:  # refused while starting; HTTPError (503) until a worker answers
            return False

    def _wait(
        self, ready: Callable[[], bool], what: str, processes: Sequence[ManagedProcess]
    ) -> None:
        wait_until(
            ready,
            f"{what} ready",
            processes,
            timeout_s=self.settings.startup_timeout_s,
            poll_s=POLL_S,
        )
