"""The supervisor restarts a child that dies, with a growing backoff, and gives up on a loop."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from starcast.up.processes import ManagedProcess, wait_until
from starcast.up.supervisor import CrashLoopError, RestartPolicy, Supervisor

DEADLINE_S: Final = 30.0
FAST: Final = RestartPolicy(first_backoff_s=0.05, max_backoff_s=0.2, max_crashes=3, window_s=30)


@pytest.fixture
def children() -> Iterator[list[ManagedProcess]]:
    started: list[ManagedProcess] = []
    yield started
    for child in started:
        child.kill()
        child.stop(DEADLINE_S)  # kill leaves the log open; stop closes it


def child(tmp_path: Path, name: str, code: str, started: list[ManagedProcess]) -> ManagedProcess:
    process = ManagedProcess(
        name, [sys.executable, "-c", code], os.environ, tmp_path / f"{name}.log"
    )
    started.append(process)
    process.start()
    return process


def supervise_until(supervisor: Supervisor, condition: object, what: str) -> None:
    def step() -> bool:
        supervisor.check()
        return bool(condition() if callable(condition) else condition)

    wait_until(step, what, [], timeout_s=DEADLINE_S, poll_s=0.02)


def test_a_killed_child_is_restarted_with_a_log_line_and_the_others_keep_running(
    tmp_path: Path, children: list[ManagedProcess], caplog: pytest.LogCaptureFixture
) -> None:
    sleeper = "import time; print('serving', flush=True); time.sleep(600)"
    victim = child(tmp_path, "worker-0", sleeper, children)
    other = child(tmp_path, "worker-1", sleeper, children)
    other_pid = other.pid
    restarted: list[str] = []
    supervisor = Supervisor(FAST)
    supervisor.watch(
        victim,
        before_restart=lambda: restarted.append("cleaned"),
        ready=lambda: "serving" in victim.log_tail(),
    )
    supervisor.watch(other)
    first_pid = victim.pid
    os.kill(first_pid, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="starcast.up.supervisor"):
        supervise_until(supervisor, lambda: victim.alive and victim.pid != first_pid, "restart")
        supervise_until(supervisor, lambda: "serving again" in caplog.text, "serving again")
    assert restarted == ["cleaned"]
    assert victim.starts == 2
    assert other.alive and other.pid == other_pid and other.starts == 1
    messages = [record.getMessage() for record in caplog.records]
    assert any(
        "worker-0 killed by SIGKILL; restarting it in 0.1 s (1 crash(es) in the last 30 s" in m
        for m in messages
    ), messages
    assert any("restarted worker-0 (run 2)" in m for m in messages), messages
    assert any("worker-0 is serving again" in m for m in messages), messages


def test_backoff_doubles_with_each_crash_in_the_window_up_to_its_cap() -> None:
    policy = RestartPolicy(first_backoff_s=0.5, max_backoff_s=10)
    assert [policy.backoff_s(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_a_child_that_keeps_crashing_stops_the_supervisor_with_the_reason(
    tmp_path: Path, children: list[ManagedProcess]
) -> None:
    crasher = child(tmp_path, "worker-0", "print('model refused'); raise SystemExit(3)", children)
    supervisor = Supervisor(FAST)
    supervisor.watch(crasher)
    started = time.monotonic()
    with pytest.raises(CrashLoopError) as raised:
        supervise_until(supervisor, False, "a crash loop")
    assert time.monotonic() - started < DEADLINE_S
    message = str(raised.value)
    assert "worker-0 exited 4 times within 30 s (last: exited with code 3)" in message
    assert message.endswith("model refused")  # that run's log, not the earlier runs'
    assert crasher.starts == 4


def test_crashes_older_than_the_window_are_forgiven(
    tmp_path: Path, children: list[ManagedProcess]
) -> None:
    now = [0.0]
    crasher = child(tmp_path, "frontend", "raise SystemExit(1)", children)
    supervisor = Supervisor(
        RestartPolicy(first_backoff_s=0, max_crashes=1, window_s=10), clock=lambda: now[0]
    )
    supervisor.watch(crasher)
    for _ in range(5):  # one crash every 11 s: never two in one window
        crasher.wait(DEADLINE_S)
        supervisor.check()
        assert crasher.alive or crasher.returncode == 1
        now[0] += 11
    assert crasher.starts == 6


def test_the_serving_again_line_counts_the_time_its_readiness_probe_took(
    tmp_path: Path, children: list[ManagedProcess], caplog: pytest.LogCaptureFixture
) -> None:
    """A probe that blocks (a frontend's /readyz waits in the socket's backlog until the new
    process accepts) is part of the time to serve again: the line says 1.4 s, not 0.0 s."""
    now = [100.0]
    victim = child(tmp_path, "frontend", "import time; time.sleep(600)", children)

    def slow_ready() -> bool:
        now[0] += 1.4  # the probe's own time
        return True

    supervisor = Supervisor(FAST, clock=lambda: now[0])
    supervisor.watch(victim, ready=slow_ready)
    victim.kill()
    with caplog.at_level(logging.WARNING, logger="starcast.up.supervisor"):
        supervisor.check()  # notes the exit
        now[0] += 1.0  # past the backoff
        supervisor.check()  # restarts it
        supervisor.check()  # probes it: ready
    messages = [record.getMessage() for record in caplog.records]
    assert "frontend is serving again, 1.4 s after its restart" in messages, messages
