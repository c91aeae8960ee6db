"""Keeps the stack's processes running: a child that dies is restarted, with a growing backoff.

A crash of one worker leaves the others serving (and RabbitMQ redelivers the batch the dead one
held, since tasks are acknowledged late); a crashed frontend comes back on the same listening
socket, which `up` holds, so clients queue in its backlog rather than meet a refused connection.
Only a crash loop (more than `max_crashes` exits of one process within `window_s`, say a model
that kills its worker) stops the stack, with the reason and that run's log.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from starcast.up.processes import ManagedProcess

logger = logging.getLogger(__name__)

POLL_S: Final = 0.1


class CrashLoopError(RuntimeError):
    """One process kept dying: restarting it again would only hide the cause."""

    def __init__(self, process: ManagedProcess, crashes: int, window_s: float) -> None:
        self.process = process
        super().__init__(
            f"{process.name} exited {crashes} times within {window_s:.0f} s "
            f"(last: {describe_exit(process.returncode)}), so the stack stops rather than "
            f"restart it again; log {process.log_path}, its last run:\n{process.log_tail()}"
        )


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


@dataclass(frozen=True)
class RestartPolicy:
    first_backoff_s: float = 0.5
    max_backoff_s: float = 10.0
    max_crashes: int = 5
    window_s: float = 60.0

    def backoff_s(self, recent_crashes: int) -> float:
        """0.5 s after one crash, doubling with each crash in the window, up to the cap."""
        return min(self.max_backoff_s, self.first_backoff_s * 2.0 ** max(0, recent_crashes - 1))


DEFAULT_POLICY: Final = RestartPolicy()


@dataclass
class _Watched:
    process: ManagedProcess
    before_restart: Callable[[], None]
    ready: Callable[[], bool]
    crashes: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    restarted_at: float | None = None  # until the restarted process is ready again


class Supervisor:
    """Restarts the processes it watches; `run` returns only by raising CrashLoopError."""

    def __init__(
        self,
        policy: RestartPolicy = DEFAULT_POLICY,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._watched: list[_Watched] = []

    def watch(
        self,
        process: ManagedProcess,
        *,
        before_restart: Callable[[], None] = lambda: None,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        """Watch a started process; `before_restart` runs before each restart (stale files),
        `ready` tells when a restarted one serves again (for the log line that says so)."""
        self._watched.append(_Watched(process, before_restart, ready))

    @property
    def processes(self) -> Sequence[ManagedProcess]:
        return [watched.process for watched in self._watched]

    def run(self) -> None:
        while True:
            self.check()
            time.sleep(POLL_S)

    def check(self) -> None:
        """One pass: note new exits, restart what is due (CrashLoopError on a crash loop)."""
        now = self._clock()
        for watched in self._watched:
            process = watched.process
            if watched.restart_at is None and not process.alive:
                self._crashed(watched, now)
            if watched.restart_at is not None and now >= watched.restart_at:
                watched.restart_at = None
                watched.before_restart()
                process.start()
                watched.restarted_at = self._clock()
                logger.warning("restarted %s (run %d)", process.name, process.starts)
            elif watched.restarted_at is not None and process.alive and watched.ready():
                # The clock read after the probe: a readiness probe can block for seconds (a
                # request waiting in the socket's backlog), and the pass's start would hide them.
                logger.warning(
                    "%s is serving again, %.1f s after its restart",
                    process.name,
                    self._clock() - watched.restarted_at,
                )
                watched.restarted_at = None

    def _crashed(self, watched: _Watched, now: float) -> None:
        process = watched.process
        watched.restarted_at = None
        process.stop(0)  # reaps what it left in its process group, closes its log
        crashes = watched.crashes
        crashes.append(now)
        while crashes and now - crashes[0] > self.policy.window_s:
            crashes.popleft()
        if len(crashes) > self.policy.max_crashes:
            raise CrashLoopError(process, len(crashes), self.policy.window_s)
        delay = self.policy.backoff_s(len(crashes))
        watched.restart_at = now + delay
        logger.warning(
            "%s %s; restarting it in %.1f s (%d crash(es) in the last %.0f s; the stack stops "
            "after %d); log %s",
            process.name,
            describe_exit(process.returncode),
            delay,
            len(crashes),
            self.policy.window_s,
            self.policy.max_crashes + 1,
            process.log_path,
        )
