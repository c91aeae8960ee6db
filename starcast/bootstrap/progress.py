"""What `up` and `down` show while they work: one line per resource, a live spinner per wait."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, TypeVar

from rich.console import Console

T = TypeVar("T")
POLL_S: Final = 2.0


class WaitTimeoutError(Exception):
    """A wait ran out of time; the message says what was awaited, for how long, and what to do."""


class Progress:
    """Lines on stderr (a spinner on a terminal); never a secret: callers pass names only."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)

    def resource(self, action: str, kind: str, name: str) -> None:
        self.console.print(f"{action:>8}  {kind} {name}")

    def note(self, message: str) -> None:
        self.console.print(message)

    @contextmanager
    def waiting(self, what: str, timeout: float) -> Iterator[None]:
        started = time.monotonic()
        with self.console.status(f"waiting for {what} (up to {timeout:.0f}s)"):
            yield
        self.console.print(f"   ready  {what} ({time.monotonic() - started:.0f}s)")


def poll(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    hint: str,
    interval: float = POLL_S,
) -> T:
    """Call `probe` until it returns something; raise :class:`WaitTimeoutError` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(f"{what} not ready after {timeout:.0f}s: {hint}")
        time.sleep(interval)
