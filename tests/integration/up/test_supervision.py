"""`starcast up` keeps serving through a crash: SIGKILL a worker (or the frontend) under load.

What a user must see: the process comes back (a log line says so), the others go on serving,
no request meets a refused connection, a request in flight is answered or gets a 504 within its
deadline, every request after the restart is answered; only a crash loop stops the stack.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import pytest

from starcast.up.processes import ManagedProcess
from tests.integration.up.launch import descendants, pid_of, run_up
from tests.support.models import ModelArtifact

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS: Final = 4
DEADLINE_S: Final = 10.0  # the frontend's default request deadline
GRACE_S: Final = 5.0  # beyond it: a 504 must come within the deadline, plus scheduling slack
AFTER_RESTART: Final = 40  # requests that must succeed once the process serves again
CLOSED: Final = {"RemoteProtocolError", "ReadError"}  # the connection closed mid-request
BODY: Final = {"repositories": [{"features": {"contributors": 12, "open_issues": 3}}]}


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic()
    finished: float
    status: int | None
    error: str | None


class Load:
    """CLIENTS threads posting predictions back to back, each outcome recorded."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/api/v1/predict"
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]

    def _client(self) -> None:
        # A new connection per request: a refused connect would show, not hide in a pool.
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                answer = httpx.post(self.url, json=BODY, timeout=DEADLINE_S + 60)
                outcome = Outcome(started, time.monotonic(), answer.status_code, None)
            except httpx.HTTPError as error:
                outcome = Outcome(started, time.monotonic(), None, f"{type(error).__name__}")
            with self._lock:
                self.outcomes.append(outcome)

    def after(self, moment: float) -> list[Outcome]:
        with self._lock:
            return [outcome for outcome in self.outcomes if outcome.started > moment]

    @contextmanager
    def running(self) -> Iterator[Load]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(DEADLINE_S + 90)


def wait_for_line(up: ManagedProcess, text: str, timeout_s: float = 240) -> float:
    """time.monotonic() once `text` is in up's output (shortly after it was written)."""
    deadline = time.monotonic() + timeout_s
    while text not in up.log_tail(10_000):
        assert up.alive, up.log_tail(40)
        assert time.monotonic() < deadline, f"no {text!r} in:\n{up.log_tail(40)}"
        time.sleep(0.1)
    return time.monotonic()


def wait_for_successes(load: Load, moment: float, count: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while len(load.after(moment)) < count:
        assert time.monotonic() < deadline, f"{len(load.after(moment))} requests after restart"
        time.sleep(0.2)


def kill_under_load(up: ManagedProcess, port: int, name: str) -> tuple[Load, float, float]:
    """SIGKILL `name` while clients post; (the load, when it was killed, when it served again)."""
    with Load(port).running() as load:
        wait_for_successes(load, 0, 20)
        killed_at = time.monotonic()
        os.kill(pid_of(up, name), signal.SIGKILL)
        wait_for_line(up, f"{name} killed by SIGKILL; restarting it in 0.5 s")
        serving_again = wait_for_line(up, f"{name} is serving again")
        wait_for_successes(load, serving_again, AFTER_RESTART)
    print(summary(load, killed_at, serving_again))  # for the record: pytest -s shows it
    return load, killed_at, serving_again


def summary(load: Load, killed_at: float, serving_again: float) -> str:
    statuses = Counter(o.status or o.error for o in load.outcomes)
    in_flight = [o for o in load.outcomes if o.started < killed_at < o.finished]
    return (
        f"{len(load.outcomes)} requests {dict(statuses)}; in flight at the kill: "
        f"{[(o.status, round(o.finished - o.started, 2)) for o in in_flight]}; serving again "
        f"{serving_again - killed_at:.1f} s after the kill; "
        f"{len(load.after(serving_again))} requests after"
    )


def check(load: Load, killed_at: float, serving_again: float) -> None:
    outcomes = load.outcomes
    refused = [o for o in outcomes if o.error is not None]
    assert not refused, refused[:5]
    for outcome in outcomes:
        if outcome.status != 200:
            # Only a request in flight at the kill, or sent before the restart, may fail, and
            # only with a 504 that came within its deadline.
            assert outcome.status == 504, outcome
            assert outcome.started < serving_again, outcome
            assert outcome.finished - outcome.started < DEADLINE_S + GRACE_S, outcome
    after = load.after(serving_again)
    assert len(after) >= AFTER_RESTART
    assert all(outcome.status == 200 for outcome in after), [o for o in after if o.status != 200]
    assert any(o.started < killed_at for o in outcomes)  # the load ran before the kill too


def test_a_worker_killed_under_load_is_restarted_and_the_others_go_on_serving(
    tmp_path: Path, started: list[ManagedProcess], model_artifact: ModelArtifact
) -> None:
    up, port = run_up(tmp_path, "--model", model_artifact.uri, workers=2)
    started.append(up)
    victim = pid_of(up, "worker-0")
    load, killed_at, serving_again = kill_under_load(up, port, "worker-0")
    check(load, killed_at, serving_again)
    during = [o for o in load.outcomes if killed_at <= o.started < serving_again]
    assert during and all(o.status == 200 for o in during)  # worker-1 served meanwhile
    assert pid_of(up, "worker-0") != victim
    assert up.alive


def test_the_only_worker_killed_under_load_comes_back_and_nothing_is_refused(
    tmp_path: Path, started: list[ManagedProcess], model_artifact: ModelArtifact
) -> None:
    up, port = run_up(tmp_path, "--model", model_artifact.uri, workers=1)
    started.append(up)
    load, killed_at, serving_again = kill_under_load(up, port, "worker-0")
    check(load, killed_at, serving_again)


def test_a_killed_frontend_comes_back_on_the_same_socket_and_nothing_is_refused(
    tmp_path: Path, started: list[ManagedProcess], model_artifact: ModelArtifact
) -> None:
    up, port = run_up(tmp_path, "--model", model_artifact.uri, workers=1)
    started.append(up)
    load, killed_at, _ = kill_under_load(up, port, "frontend")
    # A request the dead frontend was answering is lost with its connection (the client sees
    # it closed, never refused); those that waited in the socket's backlog are answered.
    failed = [o for o in load.outcomes if o.status != 200]
    assert all(o.started < killed_at and o.error in CLOSED for o in failed), failed
    assert len(failed) <= CLIENTS
    assert all(o.status == 200 for o in load.after(killed_at))


def test_a_worker_that_keeps_dying_stops_the_stack_with_the_reason(
    tmp_path: Path, started: list[ManagedProcess], model_artifact: ModelArtifact
) -> None:
    up, _ = run_up(tmp_path, "--model", model_artifact.uri, workers=1)
    started.append(up)
    for run in range(1, 7):  # the stack stops after the sixth crash within 60 s
        os.kill(pid_of(up, "worker-0"), signal.SIGKILL)
        if run < 6:
            wait_for_line(up, f"restarted worker-0 (run {run + 1})")
    assert up.wait(120) == 1
    output = up.log_tail(200)
    assert "error: worker-0 exited 6 times within 60 s (last: killed by SIGKILL)" in output
    assert "stopping: frontend, workers, broker" in output
    reason = output[output.index("error: worker-0 exited") :]
    assert reason.count("--- worker-0: run") == 0  # the log tail is the last run's only


def beam_pid(up: ManagedProcess) -> int:
    """The pid of the Erlang VM (beam.smp) of the private RabbitMQ node `up` started."""
    script = pid_of(up, "RabbitMQ node starcast-up")
    [beam] = [
        pid
        for pid in descendants(script)
        if Path(f"/proc/{pid}/comm").read_text().strip() == "beam.smp"
    ]
    return beam


def test_the_broker_killed_under_load_is_restarted_and_serving_resumes(
    tmp_path: Path, started: list[ManagedProcess], model_artifact: ModelArtifact
) -> None:
    """SIGKILL of beam.smp: `up` says so, starts the node again on its ports and data, and the
    workers and the frontend reconnect by themselves. Requests during the outage fail fast and
    clearly (503 or 504 within the deadline), never hang or meet a refused connection."""
    up, port = run_up(tmp_path, "--model", model_artifact.uri, workers=2)
    started.append(up)
    node = "RabbitMQ node starcast-up"
    with Load(port).running() as load:
        wait_for_successes(load, 0, 20)
        beam = beam_pid(up)
        killed_at = time.monotonic()
        os.kill(beam, signal.SIGKILL)
        wait_for_line(up, f"{node} exited with code 0; restarting it in 0.5 s")
        wait_for_line(up, f"restarted {node} (run 2)")
        broker_back = wait_for_line(up, f"{node} is serving again")
        recovered = wait_for_ready(port)
        wait_for_successes(load, recovered, AFTER_RESTART)
    print(summary(load, killed_at, recovered))  # for the record: pytest -s shows it
    assert not Path(f"/proc/{beam}").exists()  # reaped: no zombie left behind
    refused = [o for o in load.outcomes if o.error is not None]
    assert not refused, refused[:5]
    for outcome in load.outcomes:
        if outcome.status != 200:
            assert outcome.status in {503, 504}, outcome
            assert outcome.started < recovered, outcome
            assert outcome.finished - outcome.started < DEADLINE_S + GRACE_S, outcome
    after = load.after(recovered)
    assert len(after) >= AFTER_RESTART
    assert all(o.status == 200 for o in after), [o for o in after if o.status != 200][:5]
    assert killed_at < broker_back <= recovered
    assert up.alive


def wait_for_ready(port: int, timeout_s: float = 120) -> float:
    """time.monotonic() once the frontend's /readyz answers 200 again."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return time.monotonic()
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the frontend never became ready again"
        time.sleep(0.2)


def test_the_default_stack_survives_a_worker_crash_under_load_without_a_failed_request(
    tmp_path: Path, started: list[ManagedProcess], model_artifact: ModelArtifact
) -> None:
    """No --workers: the default (two at least, on 2 cores) loses no request when one worker is
    killed. The stall (the slowest answer to a request in flight or sent while the worker was
    down) is printed for the record, not asserted: pytest -s shows it."""
    up, port = run_up(tmp_path, "--model", model_artifact.uri, workers=None)
    started.append(up)
    assert "starcast is up: 2 worker(s)" in up.log_tail(200) or os.cpu_count() != 2
    load, killed_at, serving_again = kill_under_load(up, port, "worker-0")
    failed = [o for o in load.outcomes if o.status != 200]
    assert not failed, failed[:5]
    around = [o for o in load.outcomes if o.finished > killed_at and o.started < serving_again]
    assert around, "no request in flight or sent while the worker was down"
    stall = max(o.finished - o.started for o in around)
    usual = sorted(o.finished - o.started for o in load.outcomes if o.finished < killed_at)
    print(
        f"default stack: worker-0 killed; {len(around)} requests while it was down, the slowest "
        f"answered in {stall:.2f} s (median before the kill {usual[len(usual) // 2]:.3f} s)"
    )
