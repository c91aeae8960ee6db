"""`starcast up`: the whole pipeline on one machine, from nothing to /predictions, and back.

Run as a user runs it: the `starcast` command in its own process, stopped with SIGINT (Ctrl-C).
"""

from __future__ import annotations

import re
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from starcast.up.processes import ManagedProcess, free_port, starcast_command
from tests.integration.up.launch import (
    alive,
    clean_environment,
    ctrl_c,
    descendants,
    listening,
    outliving,
    run_up,
)
from tests.support.models import ModelArtifact

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Noise of a first run that `up` configures away (Ray, matplotlib, Celery as root).
NOISE = (
    "Token authentication is enabled",
    "building the font cache",
    "generated new fontManager",
    "superuser privileges",
)


def test_up_trains_a_model_serves_predictions_and_stops_cleanly(
    tmp_path: Path, started: list[ManagedProcess]
) -> None:
    up, port = run_up(tmp_path)
    started.append(up)
    output = up.log_tail(200)
    version = re.search(r"model: (\S+) from", output)
    broker_port = re.search(r"a private RabbitMQ node on 127\.0\.0\.1:(\d+)", output)
    assert version and broker_port, output
    assert "no model at" in output  # it trained one on the sample first
    assert (tmp_path / "models" / "sample" / "manifest.json").exists()
    assert "cross-validated scores (5 folds, log1p(stars))" in output  # as `starcast train`
    assert "median baseline" in output
    logs = [up.log_tail(10_000), *(p.read_text() for p in (tmp_path / "logs").glob("*/*.log"))]
    [run_logs] = (tmp_path / "logs").iterdir()  # one folder per run, named in the output
    assert f"logs in {run_logs}" in output
    assert {p.name for p in run_logs.iterdir()} >= {"rabbitmq.log", "worker-0.log", "frontend.log"}
    assert not [(n, log[:80]) for n in NOISE for log in logs if n in log]
    children = descendants(up.pid)

    page = httpx.get(f"http://127.0.0.1:{port}/predictions", timeout=30)
    assert page.status_code == 200
    assert version[1] in page.text
    assert page.text.count('<td><a href="https://github.com/') == 20

    assert ctrl_c(up) == 0
    assert "stopped" in up.log_tail(3)
    assert not listening(port)
    assert not listening(int(broker_port[1]))
    assert not outliving(children)
    assert not list((tmp_path / "run").glob("*/*.ready"))


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
        clean_environment(STARCAST_BROKER_URL=f"amqp://starcast:s3cret@127.0.0.1:{port}//"),
        tmp_path / "up.out",
    )  # fmt: skip
    started.append(up)
    up.start()
    assert up.wait(180) == 1
    output = up.log_tail(40)
    assert "cannot reach the broker named by STARCAST_BROKER_URL" in output
    assert f"127.0.0.1:{port}" in output
    assert "s3cret" not in output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_up_started_with_sigint_ignored_still_stops_on_a_signal(
    tmp_path: Path,
    started: list[ManagedProcess],
    model_artifact: ModelArtifact,
    signum: signal.Signals,
) -> None:
    up, port = run_up(tmp_path, "--model", model_artifact.uri, sigint_ignored=True)
    started.append(up)
    children = descendants(up.pid)
    stopping = time.monotonic()
    assert ctrl_c(up, signum) == 0
    assert time.monotonic() - stopping < 60
    assert "stopped" in up.log_tail(3)
    assert not listening(port)
    assert not [pid for pid in children if alive(pid)]


def test_up_on_a_taken_port_says_which_and_how_to_move_it_before_starting_anything(
    tmp_path: Path, started: list[ManagedProcess], model_artifact: ModelArtifact
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        up = ManagedProcess(
            "starcast up",
            starcast_command(
                "up", "--port", str(port), "--state-dir", str(tmp_path),
                "--model", model_artifact.uri,
            ),
            clean_environment(),
            tmp_path / "up.out",
        )  # fmt: skip
        started.append(up)
        up.start()
        assert up.wait(120) == 2
    output = up.log_tail()
    assert f"port {port} on 127.0.0.1 is already in use" in output
    assert "--port N or STARCAST_PORT=N" in output
    assert not (tmp_path / "logs").exists()  # no broker, no worker was started
