"""Search progress for people (a live bar) and for logs (one line per trial, e.g. in a RayJob)."""

from __future__ import annotations

import logging
from typing import Final, Self

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column

from starcast.training.search import Trial

logger = logging.getLogger(__name__)

BAR_WIDTH: Final = 10
TIME_WIDTH: Final = 7  # 0:00:42
MIN_NAME: Final = 8


def _best_text(best: Trial) -> str:
    scope = "whole folds" if best.full_folds else f"{best.train_rows} rows per fold"
    return f"best {best.candidate.label}: RMSLE {best.metrics.rmsle:.4f} ({scope})"


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


class TerminalProgress:
    """A live line per rung that reads at 80 columns: the rung, trials done / total and the
    best score come first and are never cut; the best candidate's name follows, shortened with
    an ellipsis to what the terminal has left, then a short bar and the time."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=BAR_WIDTH),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._task: TaskID | None = None
        self._rung = ""
        self._done = 0
        self._total = 0

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def rung_started(self, rung: int, rungs: int, candidates: int, train_rows: int) -> None:
        self._rung = f"rung {rung + 1}/{rungs} {train_rows} rows"
        self._done, self._total = 0, candidates
        self._task = self._progress.add_task(self._line(None), total=candidates)

    def trial_done(self, trial: Trial, best: Trial) -> None:
        if self._task is not None:
            self._done += 1
            self._progress.update(self._task, advance=1, description=self._line(best))

    def _line(self, best: Trial | None) -> str:
        figures = f"{self._rung}  {self._done}/{self._total}  "
        if best is None:
            return figures + "best RMSLE -"
        figures += f"best RMSLE {best.metrics.rmsle:.4f}  "
        # The bar, the time and the spaces between the columns take the rest of the line.
        room = self._progress.console.width - len(figures) - BAR_WIDTH - TIME_WIDTH - 3
        return figures + escape(shorten(best.candidate.label, max(room, MIN_NAME)))


class LogProgress:
    """The same information as log lines, for non-interactive runs."""

    def __init__(self) -> None:
        self._done = 0
        self._total = 0
        self._rung = ""

    def rung_started(self, rung: int, rungs: int, candidates: int, train_rows: int) -> None:
        self._done, self._total, self._rung = 0, candidates, f"{rung + 1}/{rungs}"
        logger.info(
            "rung %s: %d candidates on %d rows per fold", self._rung, candidates, train_rows
        )

    def trial_done(self, trial: Trial, best: Trial) -> None:
        self._done += 1
        logger.info(
            "rung %s trial %d/%d %s RMSLE %.4f; %s",
            self._rung,
            self._done,
            self._total,
            trial.candidate.label,
            trial.metrics.rmsle,
            _best_text(best),
        )
