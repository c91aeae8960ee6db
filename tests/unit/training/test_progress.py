"""Training's live progress reads at 80 columns: rung, trial count and best score come first."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

from starcast.artifact import Metrics
from starcast.training.families import Candidate
from starcast.training.progress import TerminalProgress
from starcast.training.search import Trial


def trial(rmsle: float) -> Trial:
    candidate = Candidate(
        "random_forest",
        {"max_features": 0.5, "min_samples_leaf": 2, "n_estimators": 300, "max_depth": None},
    )
    metrics = Metrics(rmsle=rmsle, r2_log=0.3, mae_log=0.5, mdape=40.0)
    return Trial(candidate, 0, 570, False, metrics, np.zeros(3))


@pytest.mark.parametrize("width", [80, 100])
def test_the_progress_line_keeps_its_figures_whole_and_shortens_the_name(width: int) -> None:
    screen = io.StringIO()
    console = Console(file=screen, width=width, force_terminal=False, color_system=None)
    with TerminalProgress(console) as progress:
        progress.rung_started(0, 3, 10, 570)
        for _ in range(7):
            progress.trial_done(trial(0.6512), trial(0.6451))
        progress._progress.refresh()
    lines = [line for line in screen.getvalue().splitlines() if "rung" in line]
    line = lines[-1]
    assert len(line) <= width
    assert line.startswith("rung 1/3 570 rows")
    assert "7/10" in line
    assert "best RMSLE 0.6451" in line
    assert "random_fo" in line  # the name is there, shortened rather than the figures
    assert "…" in line
