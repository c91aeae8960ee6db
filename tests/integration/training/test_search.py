"""The search on both executors (the local pool, real Ray): every trial scores exactly what its
whole pipeline scores, both give the same trials and winner, and a dead worker is one error."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import numpy as np
import pandas as pd
import psutil
import pytest

from starcast.training.config import Budget
from starcast.training.executors import LocalPool, WorkerLostError
from starcast.training.families import candidates
from starcast.training.metrics import score
from starcast.training.ray_runtime import RayExecutor
from starcast.training.search import (
    SearchProgress,
    SearchResult,
    Trial,
    make_folds,
    run_search,
    rung_rows,
)
from tests.support.local_ray import local_ray
from tests.support.models import sample_training_data

pytestmark = pytest.mark.integration

ROWS = 1800  # three folds of 1,200 training rows: two rungs (400, then 1,200 rows)
SEED = 5


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    with local_ray() as address:
        yield address


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    all_features, all_stars, names = sample_training_data()
    return all_features.iloc[:ROWS].reset_index(drop=True), all_stars[:ROWS], names


def _search(
    executor: LocalPool | RayExecutor,
    data: tuple[pd.DataFrame, np.ndarray, list[str]],
    progress: SearchProgress | None = None,
) -> SearchResult:
    """The quick budget's search on `executor`, which is closed after it, whatever happens."""
    features, log_stars, _ = data
    try:
        return run_search(
            features,
            log_stars,
            candidates(Budget.QUICK),
            make_folds(ROWS, 3, SEED),
            seed=SEED,
            executor=executor,
            progress=progress,
        )
    finally:
        executor.close()


@pytest.fixture(scope="module")
def local_result(data: tuple[pd.DataFrame, np.ndarray, list[str]]) -> SearchResult:
    return _search(LocalPool(2), data)


def test_every_trial_scores_what_its_whole_pipeline_scores(
    data: tuple[pd.DataFrame, np.ndarray, list[str]], local_result: SearchResult
) -> None:
    features, log_stars, names = data
    folds = make_folds(ROWS, 3, SEED)
    space = candidates(Budget.QUICK)
    result = local_result

    # The reference: each candidate's whole pipeline fitted on the rung's nested slice of each
    # (shuffled) training fold, as the search's schedule defines it.
    rng = np.random.default_rng(SEED)
    shuffled = [(rng.permutation(train), test) for train, test in folds]
    schedule = rung_rows(min(len(train) for train, _ in folds))
    assert len(schedule) == 2
    assert {trial.rung for trial in result.trials} == {0, 1}
    assert len([t for t in result.trials if t.rung == 0]) == len(space)
    for trial in result.trials:
        last_rung = trial.rung == len(schedule) - 1
        fidelity = 1.0 if last_rung else schedule[trial.rung] / schedule[-1]
        out_of_fold = np.empty_like(log_stars)
        for train, test in shuffled:
            rows = train if last_rung else train[: schedule[trial.rung]]
            model = trial.candidate.build(names, SEED, fidelity)
            model.fit(features.iloc[rows], log_stars[rows])
            out_of_fold[test] = model.predict(features.iloc[test])
        np.testing.assert_array_equal(trial.out_of_fold, out_of_fold, trial.candidate.label)
        assert trial.metrics == score(log_stars, out_of_fold)

    last = [trial for trial in result.trials if trial.rung == 1]
    assert result.winner == min(last, key=lambda trial: trial.metrics.rmsle)


def _same_trial(left: Trial, right: Trial) -> None:
    assert (left.candidate, left.rung, left.train_rows, left.full_folds) == (
        right.candidate,
        right.rung,
        right.train_rows,
        right.full_folds,
    )
    assert left.metrics == right.metrics, left.candidate.label
    np.testing.assert_array_equal(left.out_of_fold, right.out_of_fold, left.candidate.label)


def test_ray_and_the_local_pool_give_the_same_trials_and_winner(
    ray_address: str,
    data: tuple[pd.DataFrame, np.ndarray, list[str]],
    local_result: SearchResult,
) -> None:
    on_ray = _search(RayExecutor(), data)

    assert len(on_ray.trials) == len(local_result.trials)
    for on_ray_trial, local_trial in zip(on_ray.trials, local_result.trials, strict=True):
        _same_trial(on_ray_trial, local_trial)
    _same_trial(on_ray.winner, local_result.winner)
    assert on_ray.finalists.keys() == local_result.finalists.keys()
    for family, trial in on_ray.finalists.items():
        _same_trial(trial, local_result.finalists[family])
    assert on_ray.baseline == local_result.baseline


class KillAWorker:
    """Progress that kills one of the pool's workers (SIGKILL, as the OOM killer does) when the
    first trial is done, with fits of the search still queued and running."""

    def __init__(self) -> None:
        self.killed: list[int] = []

    def rung_started(self, rung: int, rungs: int, candidates: int, train_rows: int) -> None:
        pass

    def trial_done(self, trial: Trial, best: Trial) -> None:
        if self.killed:
            return
        workers = [
            child
            for child in psutil.Process().children(recursive=True)
            if any(part.startswith("LokyProcess-") for part in child.cmdline())
        ]
        assert workers, "the pool's worker processes were not found"
        workers[0].send_signal(signal.SIGKILL)
        self.killed.append(workers[0].pid)


@pytest.mark.timeout(180)  # a hang fails here, well before the suite's limit
def test_a_worker_that_dies_is_one_clear_error_not_a_hang(
    data: tuple[pd.DataFrame, np.ndarray, list[str]],
) -> None:
    progress = KillAWorker()
    with pytest.raises(WorkerLostError) as raised:
        _search(LocalPool(2), data, progress)
    assert progress.killed
    message = str(raised.value)
    assert "worker process of the training pool died" in message
    assert "SIGKILL" in message  # the signal that killed it, as loky reports it
    assert "out-of-memory" in message
    # Closing the broken pool left none of its workers behind.
    assert not [
        child
        for child in psutil.Process().children(recursive=True)
        if child.status() != psutil.STATUS_ZOMBIE
        and any(part.startswith("LokyProcess-") for part in child.cmdline())
    ]
