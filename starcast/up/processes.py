"""Child processes started, watched and stopped by pid: workers, frontend, broker."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG: Final = 1


def free_port() -> int:
    """A TCP port nothing listens on right now, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def parent_death_signal() -> None:
    """In the child before exec: get SIGTERM if the parent dies, so nothing outlives `up`."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def starcast_command(*arguments: str) -> list[str]:
    """`starcast ...` run by this interpreter, so children use the same environment."""
    return [sys.executable, "-c", "from starcast.cli import main; main()", *arguments]


class ManagedProcess:
    """One child in its own session (a Ctrl-C reaches only `up`, which then stops it in order).

    It may be started again once it has exited (a crash, a broker restart). Each run appends to
    the log after a marker line, and `log_tail` shows the current run only: an old run's lines
    never pass for this one's.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        environment: Mapping[str, str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.environment = dict(environment)
        self.log_path = log_path
        self.cwd = cwd
        self.pass_fds = tuple(pass_fds)  # inherited open files, such as a listening socket
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._run_offset = 0  # where this run's lines start in the log

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} was not started"
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.alive:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self._close_log()  # left open if the previous run exited by itself
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.starts += 1
        started = datetime.now(UTC).isoformat(timespec="seconds")
        self._log.write(f"--- {self.name}: run {self.starts} started {started}\n".encode())
        self._log.flush()
        self._run_offset = self._log.tell()
        self._process = subprocess.Popen(
            self.argv,
            env=self.environment,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=parent_death_signal,
            pass_fds=self.pass_fds,
        )
        logger.info("started %s (pid %d), log %s", self.name, self._process.pid, self.log_path)

    def signal_group(self, signum: signal.Signals) -> None:
        """Signal the child's whole process group (the child and anything it started)."""
        if self.alive:
            os.killpg(self.pid, signum)

    def wait(self, timeout_s: float) -> int:
        """The exit code, once the child exits by itself (subprocess.TimeoutExpired if not)."""
        assert self._process is not None, f"{self.name} was not started"
        return self._process.wait(timeout_s)

    def terminate(self) -> None:
        """SIGTERM without waiting (see `stop`)."""
        if self.alive:
            assert self._process is not None
            self._process.send_signal(signal.SIGTERM)

    def stop(self, timeout_s: float) -> int | None:
        """SIGTERM, wait up to `timeout_s` for a graceful exit, then SIGKILL the group."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0f s; killing it", self.name, timeout_s)
                self.signal_group(signal.SIGKILL)
                process.wait()
        self._reap_group()
        self._close_log()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL the child and everything in its group, at once (a crash, for tests)."""
        if self._process is None:
            return
        self._reap_group(signal.SIGKILL)
        self._process.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The last `lines` lines this run wrote (only this run's, whatever the log held)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._run_offset)
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _reap_group(self, signum: signal.Signals = signal.SIGKILL) -> None:
        # Pool processes left behind by a killed parent are still in the child's group.
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signum)


class WaitError(RuntimeError):
    """What was awaited didn't come: a watched process exited first, or time ran out."""


def wait_until(
    ready: Callable[[], bool],
    what: str,
    processes: Sequence[ManagedProcess],
    *,
    timeout_s: float,
    poll_s: float = 0.2,
) -> None:
    """Poll `ready()` until it is true; WaitError, with the logs, if a process exits first or
    `timeout_s` passes (a process that dies while starting fails the wait at once)."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        for process in processes:
            if not process.alive:
                raise WaitError(
                    f"{process.name} exited with code {process.returncode} before {what}; "
                    f"log {process.log_path}:\n{process.log_tail()}"
                )
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"--- {process.name} ({process.log_path}):\n{process.log_tail(20)}"
                for process in processes
            )
            raise WaitError(f"no {what} within {timeout_s:.0f} s\n{tails}")
        time.sleep(poll_s)
