"""Starting Ray for a run (the Ray path: RAY_ADDRESS or `--executor ray`): retried once on a busy
machine, one clear error, no banner (real Ray)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import ray
from typer.testing import CliRunner

from starcast.cli import app
from starcast.training.ray_runtime import START_ATTEMPTS, RayStartError, ensure_ray

pytestmark = pytest.mark.integration

# What Ray 2.x raises when its raylet does not register in time (ray/_private/node.py).
RAY_START_TIMEOUT = Exception(
    "The current node timed out during startup. This could happen because some of the raylet "
    "failed to startup or the GCS has become overloaded."
)


@pytest.fixture
def no_ray() -> Iterator[None]:
    """Each test starts from no Ray connection and leaves none."""
    if ray.is_initialized():
        ray.shutdown()
    yield
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


@ray.remote
def _auth_mode() -> str | None:
    return os.environ.get("RAY_AUTH_MODE")


def test_a_start_that_times_out_is_retried_after_its_processes_are_stopped(
    no_ray: None, local: None
) -> None:
    left_behind: list[subprocess.Popen[bytes]] = []
    calls: list[dict[str, Any]] = []

    def init_that_times_out_once(**options: Any) -> Any:
        calls.append(options)
        if len(calls) == 1:
            # A failed ray.init leaves its GCS and raylet running; this child stands for them.
            left_behind.append(subprocess.Popen(["sleep", "600"]))
            raise RAY_START_TIMEOUT
        return ray.init(**options)

    ensure_ray(cpus=1, init=init_that_times_out_once)

    assert len(calls) == 2
    assert ray.is_initialized()
    assert ray.get(_auth_mode.remote()) == "token"  # token authentication stays on
    assert not psutil.pid_exists(left_behind[0].pid)  # stopped (and reaped) before the retry
    # What a one-machine run does not need stays off.
    assert calls[1]["address"] == "local"  # its own instance, never another one found here
    assert calls[1]["include_dashboard"] is False
    assert calls[1]["log_to_driver"] is False


def test_a_start_that_fails_twice_is_one_error_that_says_what_to_try(
    no_ray: None, local: None
) -> None:
    attempts = 0

    def init_that_always_times_out(**options: Any) -> Any:
        nonlocal attempts
        attempts += 1
        raise RAY_START_TIMEOUT

    with pytest.raises(RayStartError) as raised:
        ensure_ray(init=init_that_always_times_out)
    assert attempts == START_ATTEMPTS == 2
    message = str(raised.value)
    assert "timed out during startup" in message  # Ray's own reason
    assert "less loaded" in message
    assert "ray start --head" in message
    assert "RAY_ADDRESS" in message


def test_train_prints_one_error_not_a_traceback_when_ray_cannot_start(
    no_ray: None, local: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def ray_init_that_times_out(**options: Any) -> Any:
        raise RAY_START_TIMEOUT

    monkeypatch.setattr(ray, "init", ray_init_that_times_out)
    result = CliRunner().invoke(
        app,
        [
            *("train", "--out", (tmp_path / "model").as_uri()),
            *("--budget", "quick", "--folds", "2", "--executor", "ray"),
        ],
    )
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "Ray could not start on this machine" in errors[0]
    assert not (tmp_path / "model").exists()  # nothing half-written


def test_a_local_start_prints_no_token_banner_and_keeps_token_authentication(
    tmp_path: Path,
) -> None:
    script = (
        "import logging, os, ray\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "from starcast.training.ray_runtime import ensure_ray\n"
        "ensure_ray(cpus=1)\n"
        "@ray.remote\n"
        "def mode():\n"
        "    return os.environ.get('RAY_AUTH_MODE')\n"
        "print('auth mode', ray.get(mode.remote()))\n"
        "ray.shutdown()\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "auth mode token" in completed.stdout
    assert "Token authentication" not in completed.stderr + completed.stdout


def test_a_local_start_starts_its_own_instance_beside_another_on_the_machine(
    no_ray: None, local: None
) -> None:
    # Another user's Ray on this machine (the latest started, as ray.init would find it): a
    # run without RAY_ADDRESS must neither join it nor fail on it.
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, ray\n"
            "ray.init(address='local', num_cpus=1, include_dashboard=False)\n"
            "print(ray.get_runtime_context().gcs_address, flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
    )
    try:
        assert other.stdout is not None
        other_address = other.stdout.readline().strip()
        assert other_address
        ensure_ray(cpus=1)
        assert ray.get_runtime_context().gcs_address != other_address
    finally:
        assert other.stdin is not None and other.stdout is not None
        other.stdin.close()
        other.wait(timeout=60)
        other.stdout.close()
