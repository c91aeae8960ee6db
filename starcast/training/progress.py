"""Search progress for people (a live bar) and for logs (one line per trial, e.g. in a RayJob)."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.progress import TaskID

from starcast.terminal import LiveBars
from starcast.training.search import Trial

logger = logging.getLogger(__name__)


def _best_text(best: Trial) -> str:
    scope = "whole folds" if best.full_folds else f"{best.train_rows} rows per fold"
    return f"best {best.candidate.label}: RMSLE {best.metrics.rmsle:.4f} ({scope})"


class TerminalProgress(LiveBars):
    """A rich progress bar per rung: trials done / total, and the best so far."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__("best", console)
        self._task: TaskID | None = None

    def rung_started(self, rung: int, rungs: int, candidates: int, train_rows: int) -> None:
        self._task = self._progress.add_task(
            f"rung {rung + 1}/{rungs} ({train_rows} rows/fold)", total=candidates, best=""
        )

    def trial_done(self, trial: Trial, best: Trial) -> None:
        if self._task is not None:
            self._progress.update(self._task, advance=1, best=_best_text(best))


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
