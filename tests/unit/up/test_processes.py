"""ManagedProcess: where a child runs, what a second run keeps, and that a stop leaves nothing."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest

from starcast.up.processes import ManagedProcess, WaitError, wait_until

DEADLINE_S: Final = 30.0

# Ignores SIGTERM, starts a grandchild (in its process group), says so, then waits for ever.
STUBBORN: Final = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("grandchild", grandchild.pid, flush=True)
time.sleep(600)
"""


def python(tmp_path: Path, code: str, cwd: Path | None = None) -> ManagedProcess:
    return ManagedProcess(
        "child", [sys.executable, "-c", code], os.environ, tmp_path / "child.log", cwd=cwd
    )


def eventually(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, what, [], timeout_s=DEADLINE_S, poll_s=0.05)


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def test_child_runs_in_the_directory_it_is_given(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    child = python(tmp_path, "import os; print(os.getcwd())", cwd=workdir)
    child.start()
    assert child.wait(DEADLINE_S) == 0
    assert child.log_tail(1) == str(workdir)
    child.stop(DEADLINE_S)  # an exited child's log stays open until stop or the next start


def test_child_starts_again_after_it_exits_and_its_tail_is_the_last_run_only(
    tmp_path: Path,
) -> None:
    (tmp_path / "child.log").write_text("a line of an earlier `starcast up`\n")
    child = python(tmp_path, "import os; print('run', os.environ['RUN'])")
    for run in ("one", "two"):
        child.environment["RUN"] = run
        child.start()
        assert child.wait(DEADLINE_S) == 0
        child.stop(DEADLINE_S)
        assert child.log_tail() == f"run {run}"
    log = (tmp_path / "child.log").read_text().splitlines()
    assert log[0] == "a line of an earlier `starcast up`"
    assert [line.split(" started ")[0] for line in log[1::2]] == [
        "--- child: run 1",
        "--- child: run 2",
    ]
    assert log[2::2] == ["run one", "run two"]


def test_a_running_child_is_not_started_twice(tmp_path: Path) -> None:
    child = python(tmp_path, "import time; time.sleep(600)")
    child.start()
    try:
        with pytest.raises(RuntimeError, match="child is already running"):
            child.start()
    finally:
        child.stop(DEADLINE_S)


def test_stop_kills_a_child_that_ignores_sigterm_and_its_whole_group(tmp_path: Path) -> None:
    child = python(tmp_path, STUBBORN)
    child.start()
    try:
        eventually(lambda: "grandchild" in child.log_tail(1), "grandchild started")
        grandchild = int(child.log_tail(1).split()[1])
        assert child.stop(timeout_s=0.5) == -signal.SIGKILL
        eventually(lambda: gone(grandchild), f"exit of grandchild {grandchild}")
    finally:
        child.kill()  # only does something if an assertion failed


def test_waiting_fails_at_once_when_a_watched_child_exits(tmp_path: Path) -> None:
    child = python(tmp_path, "print('giving up'); raise SystemExit(3)")
    child.start()
    started = time.monotonic()
    with pytest.raises(
        WaitError, match=r"child exited with code 3 before readiness(.|\n)*giving up"
    ):
        wait_until(lambda: False, "readiness", [child], timeout_s=DEADLINE_S)
    assert time.monotonic() - started < DEADLINE_S
    child.stop(DEADLINE_S)


def test_waiting_past_the_timeout_says_what_did_not_come(tmp_path: Path) -> None:
    child = python(tmp_path, "import time; print('still starting', flush=True); time.sleep(600)")
    child.start()
    try:
        eventually(lambda: "still starting" in child.log_tail(1), "child started")
        with pytest.raises(WaitError, match=r"no readiness within 0 s(.|\n)*still starting"):
            wait_until(lambda: False, "readiness", [child], timeout_s=0.2, poll_s=0.05)
    finally:
        child.stop(DEADLINE_S)
