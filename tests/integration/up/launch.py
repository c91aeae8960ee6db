"""Running `starcast up` as a user does: the command in its own process, read from its output."""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from starcast.up.processes import ManagedProcess, free_port, starcast_command

START_TIMEOUT_S: Final = 300.0  # the first test trains a model on the sample before serving it
READY_LINE: Final = "Ctrl-C stops everything"

# `starcast up` started the way a shell starts a background job: with SIGINT ignored.
SIGINT_IGNORED: Final = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found |= {int(child), *descendants(int(child))}
    return found


def outliving(pids: set[int], grace_s: float = 5.0) -> list[int]:
    """The processes of `pids` still alive `grace_s` after their parent stopped.

    The training pool's resource trackers (loky's and multiprocessing's) exit on their own once
    their parent's end of the pipe closes, a moment after it; anything else should be gone.
    """
    deadline = time.monotonic() + grace_s
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


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


def clean_environment(**environment: str) -> dict[str, str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("STARCAST_")}
    variables.update(environment)
    return variables


def up_process(
    tmp_path: Path,
    *arguments: str,
    workers: int | None = 1,
    sigint_ignored: bool = False,
    environment: dict[str, str] | None = None,
) -> tuple[ManagedProcess, int]:
    """`starcast up` on a free port with its state in `tmp_path`, not started yet; `workers`
    None leaves the worker count to `up`'s default."""
    port = free_port()
    worker_flag = [] if workers is None else ["--workers", str(workers)]
    command: Sequence[str] = starcast_command(
        "up", "--port", str(port), *worker_flag, "--state-dir", str(tmp_path), *arguments,
    )  # fmt: skip
    if sigint_ignored:
        command = [sys.executable, "-c", SIGINT_IGNORED, *command[1:]]
    process = ManagedProcess(
        "starcast up", command, clean_environment(**(environment or {})), tmp_path / "up.out"
    )
    return process, port


def wait_until_up(up: ManagedProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while READY_LINE not in up.log_tail(200):
        assert up.alive, f"starcast up exited ({up.returncode}):\n{up.log_tail(40)}"
        assert time.monotonic() < deadline, f"starcast up not up:\n{up.log_tail(40)}"
        time.sleep(0.5)


def run_up(
    tmp_path: Path,
    *arguments: str,
    workers: int | None = 1,
    sigint_ignored: bool = False,
    **environment: str,
) -> tuple[ManagedProcess, int]:
    """`starcast up`, started and serving."""
    up, port = up_process(
        tmp_path,
        *arguments,
        workers=workers,
        sigint_ignored=sigint_ignored,
        environment=environment,
    )
    up.start()
    wait_until_up(up)
    return up, port


def pid_of(up: ManagedProcess, name: str) -> int:
    """The pid of the latest `name` (worker-0, frontend) that `up` said it started."""
    pids = re.findall(rf"started {re.escape(name)} \(pid (\d+)\)", up.log_tail(10_000))
    assert pids, up.log_tail(40)
    return int(pids[-1])


def ctrl_c(up: ManagedProcess, signum: int = signal.SIGINT) -> int:
    os.kill(up.pid, signum)
    return up.wait(120)
