"""The real operator, `python -m starcast operator run`, as a process tests can kill and restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from starcast.up.processes import free_port

START_TIMEOUT_S: Final = 90.0


class OperatorProcess:
    """One operator process; `start` waits for its liveness endpoint to answer."""

    def __init__(self, env: Mapping[str, str], log_path: Path, *args: str) -> None:
        self._env = dict(env)
        self._args = args
        self.log_path = log_path
        self.liveness_port = free_port()
        self.metrics_port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment it runs with (a second operator can share it)."""
        return dict(self._env)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def liveness_url(self) -> str:
        return f"http://127.0.0.1:{self.liveness_port}/healthz"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self) -> OperatorProcess:
        env = self._env | {
            "STARCAST_OPERATOR_LIVENESS_HOST": "127.0.0.1",
            "STARCAST_OPERATOR_LIVENESS_PORT": str(self.liveness_port),
            "STARCAST_OPERATOR_METRICS_HOST": "127.0.0.1",
            "STARCAST_OPERATOR_METRICS_PORT": str(self.metrics_port),
            "STARCAST_LOG_JSON": "1",
            "PYTHONUNBUFFERED": "1",
        }
        argv = [sys.executable, "-m", "starcast", "operator", "run", *self._args]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"the operator exited {self._proc.returncode}:\n{self.log_tail()}"
                )
            if self.get(self.liveness_url) is not None:
                return self
            time.sleep(0.3)
        self.kill()
        raise RuntimeError(
            f"the operator was not live in {START_TIMEOUT_S:.0f}s:\n{self.log_tail()}"
        )

    def get(self, url: str) -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: bytes = response.read()
                return body.decode()
        except (urllib.error.URLError, OSError):
            return None

    def kill(self) -> None:
        """SIGKILL: no cleanup handler runs, as when a node dies."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _records(self) -> Iterator[dict[str, Any]]:
        """The JSON records of its log so far."""
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                yield json.loads(line)

    def handler_runs(self, handler: str, kind: str, name: str, namespace: str | None = None) -> int:
        """How many times kopf logged `handler` succeeding on the `kind` named `name`."""
        runs = 0
        for record in self._records():
            ref = record.get("k8s_ref") or {}
            if (
                record.get("message") == f"Handler '{handler}' succeeded."
                and ref.get("kind") == kind
                and ref.get("name") == name
                and namespace in (None, ref.get("namespace"))
            ):
                runs += 1
        return runs

    def rayjob_creates(self, run: str) -> int:
        """How many RayJobs this process logged creating for the TrainingRun named `run`."""
        return sum(
            str(record.get("message")).startswith("created RayJob ")
            and str(record.get("object")).endswith(f"/{run}")
            for record in self._records()
        )

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def peak_rss_mib(self) -> float:
        """The process's peak resident memory (VmHWM), from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0


def operator_env(base: Mapping[str, str], **settings: str) -> dict[str, str]:
    """`base` (the plane's env) with STARCAST_OPERATOR_<KEY> settings, host AWS_* dropped."""
    env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "STARCAST_OPERATOR_"))}
    env |= {f"STARCAST_OPERATOR_{key.upper()}": value for key, value in settings.items()}
    env.setdefault("PATH", os.environ.get("PATH", ""))
    return env
