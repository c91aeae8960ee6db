"""`starcast up`: the whole pipeline on one machine, from nothing to /predictions, and back.

Run as a user runs it: the `starcast` command in its own process, stopped with SIGINT (Ctrl-C).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from starcast.up.processes import ManagedProcess, free_port, starcast_command
from tests.support.models import ModelArtifact, model_artifact

__all__ = ["model_artifact"]

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_TIMEOUT_S = 300.0  # the first test trains a model on the sample before serving it


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found |= {int(child), *descendants(int(child))}
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run_up(tmp_path: Path, *arguments: str, **environment: str) -> tuple[ManagedProcess, int]:
    port = free_port()
    variables = {k: v for k, v in os.environ.items() if not k.startswith("STARCAST_")}
    variables.update(environment)
    up = ManagedProcess(
        "starcast up",
        starcast_command(
            "up", "--port", str(port), "--workers", "1", "--state-dir", str(tmp_path), *arguments
        ),
        variables,
        tmp_path / "up.out",
    )
    up.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while "Ctrl-C stops everything" not in up.log_tail(5):
        assert up.alive, f"starcast up exited ({up.returncode}):\n{up.log_tail(40)}"
        assert time.monotonic() < deadline, f"starcast up not up:\n{up.log_tail(40)}"
        time.sleep(0.5)
    return up, port


@pytest.fixture
def started() -> Iterator[list[ManagedProcess]]:
    processes: list[ManagedProcess] = []
    yield processes
    for process in processes:
        process.stop(60)


def ctrl_c(up: ManagedProcess) -> int:
    os.kill(up.pid, signal.SIGINT)
    return up.wait(120)


def test_up_trains_a_model_serves_predictions_and_stops_cleanly(
    tmp_path: Path, started: list[ManagedProcess]
) -> None:
    up, port = run_up(tmp_path)
    started.append(up)
    output = up.log_tail(60)
    version = re.search(r"model: (\S+) from", output)
    broker_port = re.search(r"a private RabbitMQ node on 127\.0\.0\.1:(\d+)", output)
    assert version and broker_port, output
    assert "no model at" in output  # it trained one on the sample first
    assert (tmp_path / "models" / "sample" / "manifest.json").exists()
    children = descendants(up.pid)

    page = httpx.get(f"http://127.0.0.1:{port}/predictions", timeout=30)
    assert page.status_code == 200
    assert version[1] in page.text
    assert page.text.count('<td><a href="https://github.com/') == 20

    assert ctrl_c(up) == 0
    assert "stopped" in up.log_tail(3)
    assert not listening(port)
    assert not listening(int(broker_port[1]))
    assert not [pid for pid in children if alive(pid)]
    assert not list((tmp_path / "run").glob("*.ready"))


def test_up_without_rabbitmq_falls_back_to_the_filesystem_broker_and_says_so(
    tmp_path: Path, started: list[ManagedProcess], model_artifact: ModelArtifact
) -> None:
    up, port = run_up(
        tmp_path,
        "--model",
        model_artifact.uri,
        STARCAST_RABBITMQ_SERVER=str(tmp_path / "no-rabbitmq-server"),
    )
    started.append(up)
    assert "falling back to kombu's filesystem transport" in up.log_tail(60)
    answer = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/predict",
        json={"repositories": [{"features": {"open_issues": 3}}]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"][0]["model_version"] == model_artifact.version
    children = descendants(up.pid)
    assert ctrl_c(up) == 0
    assert not [pid for pid in children if alive(pid)]


def test_up_with_an_unreachable_broker_says_so_and_stops(
    tmp_path: Path, started: list[ManagedProcess], model_artifact: ModelArtifact
) -> None:
    port = free_port()  # nothing listens there: up must say so and stop
    up = ManagedProcess(
        "starcast up",
        starcast_command(
            "up", "--port", str(free_port()), "--workers", "1", "--state-dir", str(tmp_path),
            "--model", model_artifact.uri,
        ),
        {
            **{k: v for k, v in os.environ.items() if not k.startswith("STARCAST_")},
            "STARCAST_BROKER_URL": f"amqp://starcast:s3cret@127.0.0.1:{port}//",
        },
        tmp_path / "up.out",
    )  # fmt: skip
    started.append(up)
    up.start()
    assert up.wait(180) == 1
    output = up.log_tail(40)
    assert "cannot reach the broker named by STARCAST_BROKER_URL" in output
    assert f"127.0.0.1:{port}" in output
    assert "s3cret" not in output
