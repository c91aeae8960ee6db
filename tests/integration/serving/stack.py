"""Workers and frontends as real processes (`starcast serve ...`) on the test broker.

Each stack gets a queue of its own, so stacks sharing the session broker never take each other's
batches. Workers have known node names, so a test can ask one what it is running.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from starcast.serving.celery_app import create_celery_app
from starcast.serving.settings import QueueSettings
from starcast.up.processes import ManagedProcess, free_port, starcast_command, wait_until
from tests.support.models import ModelArtifact

STARTUP_TIMEOUT_S = 120.0


@dataclass
class Worker:
    process: ManagedProcess
    hostname: str
    ready_file: Path


@dataclass
class ServingStack:
    base_dir: Path
    broker_url: str
    queue: str = field(default_factory=lambda: f"starcast.test.{uuid.uuid4().hex[:12]}")
    workers: list[Worker] = field(default_factory=list)
    frontends: list[ManagedProcess] = field(default_factory=list)
    base_url: str = ""

    def environment(self, **settings: Any) -> dict[str, str]:
        variables = {
            key: value for key, value in os.environ.items() if not key.startswith("STARCAST_")
        }
        variables.update(
            {
                "STARCAST_BROKER_URL": self.broker_url,
                "STARCAST_QUEUE": self.queue,
                "OMP_NUM_THREADS": "1",
            }
        )
        variables.update({f"STARCAST_{k.upper()}": str(v) for k, v in settings.items()})
        return variables

    def start_worker(self, model: ModelArtifact, *, wait: bool = True, **settings: Any) -> Worker:
        index = len(self.workers)
        hostname = f"worker-{index}-{uuid.uuid4().hex[:6]}@test"
        ready_file = self.base_dir / f"worker-{index}.ready"
        defaults = {
            "model_uri": model.uri,
            "model_sha256": model.sha256,
            "worker_ready_file": ready_file,
            "worker_hostname": hostname,
        }
        environment = self.environment(**{**defaults, **settings})
        process = ManagedProcess(
            f"worker-{index}",
            starcast_command("serve", "worker"),
            environment,
            self.base_dir / f"worker-{index}.log",
        )
        process.start()
        worker = Worker(process, hostname, ready_file)
        self.workers.append(worker)
        if wait:
            self.wait_for(lambda: ready_file.exists(), f"{hostname} ready", [process])
        return worker

    def start_frontend(self, **settings: Any) -> str:
        port = free_port()
        index = len(self.frontends)
        process = ManagedProcess(
            f"frontend-{index}",
            starcast_command("serve", "frontend", "--port", str(port)),
            self.environment(**settings),
            self.base_dir / f"frontend-{index}.log",
        )
        process.start()
        self.frontends.append(process)
        self.base_url = f"http://127.0.0.1:{port}"
        self.wait_for(lambda: self._answers("/healthz"), "frontend up", [process])
        return self.base_url

    def wait_until_ready(self) -> None:
        self.wait_for(lambda: self._answers("/readyz"), "frontend ready", self.frontends)

    def celery(self) -> Any:
        """A Celery client on this stack's broker and queue, for inspecting workers."""
        return create_celery_app(QueueSettings(broker_url=self.broker_url, queue=self.queue))

    def active_task_ids(self, worker: Worker) -> list[str]:
        replies = self.celery().control.inspect(destination=[worker.hostname], timeout=1).active()
        return [task["id"] for task in (replies or {}).get(worker.hostname, [])]

    def stop(self) -> None:
        for frontend in self.frontends:
            frontend.stop(20)
        for worker in self.workers:
            worker.process.stop(30)

    def wait_for(
        self,
        condition: Callable[[], bool],
        what: str,
        processes: list[ManagedProcess],
        timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        wait_until(condition, what, processes, timeout_s=timeout_s)

    def _answers(self, path: str) -> bool:
        try:
            return httpx.get(self.base_url + path, timeout=5).status_code == httpx.codes.OK
        except httpx.HTTPError:
            return False
