"""What a run shows while it works: repositories done, rate limit left, and the next reset."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from rich.console import Console
from rich.progress import TaskID

from starcast.extraction.tokens import BudgetView
from starcast.terminal import LiveBars

logger = logging.getLogger(__name__)


class ExtractProgress(Protocol):
    def phase(self, name: str, total: int | None, done: int = 0) -> None: ...

    def advance(self, count: int) -> None: ...

    def budget(self, views: list[BudgetView], resource: str = "graphql") -> None: ...


def budget_text(views: list[BudgetView], resource: str = "graphql") -> str:
    if not views:
        return "no usable token"
    left = sum(v.remaining for v in views)
    resets = [v.reset_at for v in views if v.reset_at is not None]
    reset = f", reset {min(resets):%H:%M:%S} UTC" if resets else ""
    tokens = f" ({len(views)} tokens)" if len(views) > 1 else ""
    return f"{resource} {left:,} left{tokens}{reset}"


class QuietProgress:
    def phase(self, name: str, total: int | None, done: int = 0) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def budget(self, views: list[BudgetView], resource: str = "graphql") -> None:
        pass


class TerminalProgress(LiveBars):
    """A rich bar per phase with the budget beside it."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__("budget", console)
        self._task: TaskID | None = None
        self._budget = ""

    def phase(self, name: str, total: int | None, done: int = 0) -> None:
        if self._task is not None:  # the previous phase is over, whatever its estimate said
            finished = max(1, int(self._progress.tasks[self._task].completed))
            self._progress.update(self._task, total=finished, completed=finished)
        self._task = self._progress.add_task(name, total=total, completed=done, budget=self._budget)

    def advance(self, count: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, advance=count)

    def budget(self, views: list[BudgetView], resource: str = "graphql") -> None:
        self._budget = budget_text(views, resource)
        if self._task is not None:
            self._progress.update(self._task, budget=self._budget)


class LogProgress:
    """The same as log lines, at most one every `interval` seconds, for pods and CI."""

    def __init__(self, interval: float = 10.0) -> None:
        self._interval = interval
        self._name = ""
        self._total: int | None = None
        self._done = 0
        self._budget = ""
        self._last = 0.0

    def phase(self, name: str, total: int | None, done: int = 0) -> None:
        self._name, self._total, self._done = name, total, done
        logger.info("%s: %d/%s", name, done, total if total is not None else "?")

    def advance(self, count: int) -> None:
        self._done += count
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            logger.info(
                "%s: %d/%s repositories; %s",
                self._name,
                self._done,
                self._total if self._total is not None else "?",
                self._budget,
            )

    def budget(self, views: list[BudgetView], resource: str = "graphql") -> None:
        self._budget = budget_text(views, resource)
