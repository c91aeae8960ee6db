"""Successive halving over model candidates, every (candidate, fold) fit a Ray task.

Rung 0 fits every candidate on a small slice of each training fold; each later rung keeps the
best third and triples the rows, until the last rung fits on whole folds. The best candidate of
every family always holds one of the seats, so each family gets a whole-fold CV score for the
report, and the winner is chosen among whole-fold scores only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import pandas as pd
import ray
from sklearn.model_selection import KFold

from starcast.artifact import Metrics
from starcast.training.families import Candidate
from starcast.training.metrics import score

ETA: Final = 3
MIN_ROWS: Final = 400

Fold = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Trial:
    """A candidate's cross-validated score at one rung."""

    candidate: Candidate
    rung: int
    train_rows: int
    full_folds: bool  # fitted on whole training folds, not a slice of them
    metrics: Metrics
    out_of_fold: np.ndarray


@dataclass(frozen=True)
class SearchResult:
    trials: list[Trial]
    finalists: dict[str, Trial]  # family -> its best full-data trial
    winner: Trial
    baseline: Metrics


class SearchProgress(Protocol):
    def rung_started(self, rung: int, rungs: int, candidates: int, train_rows: int) -> None: ...

    def trial_done(self, trial: Trial, best: Trial) -> None: ...


def make_folds(rows: int, folds: int, seed: int) -> list[Fold]:
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train, test) for train, test in splitter.split(np.arange(rows))]


def rung_rows(train_rows: int, *, eta: int = ETA, min_rows: int = MIN_ROWS) -> list[int]:
    """Rows per training fold at each rung, smallest first, ending with the whole fold."""
    rungs = 1 + max(0, math.floor(math.log(train_rows / min_rows, eta))) if train_rows > 0 else 1
    return [math.ceil(train_rows / eta ** (rungs - 1 - rung)) for rung in range(rungs)]


def survivors(trials: Sequence[Trial], *, eta: int = ETA) -> list[Candidate]:
    """The best 1/eta of a rung, in which every family keeps its best candidate.

    Family bests take their seats first, so a weak family costs the rung its last-ranked
    seat rather than an extra fit: the report still scores every family on whole folds.
    """
    ranked = sorted(trials, key=_rmsle)
    seats = max(math.ceil(len(ranked) / eta), 1)
    chosen: dict[int, Trial] = {}
    for position, trial in enumerate(ranked):
        if all(kept.candidate.family != trial.candidate.family for kept in chosen.values()):
            chosen[position] = trial
    for position, trial in enumerate(ranked):
        if len(chosen) >= seats:
            break
        chosen.setdefault(position, trial)
    return [chosen[position].candidate for position in sorted(chosen)]


def baseline_metrics(log_stars: np.ndarray, folds: Sequence[Fold]) -> Metrics:
    """Predict each validation fold with the median of its training fold."""
    predictions = np.empty_like(log_stars)
    for train, test in folds:
        predictions[test] = np.median(log_stars[train])
    return score(log_stars, predictions)


@ray.remote(num_cpus=1)
def _fit_predict(
    candidate: Candidate,
    feature_names: list[str],
    features: pd.DataFrame,
    log_stars: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    fidelity: float,
) -> np.ndarray:
    model = candidate.build(feature_names, seed, fidelity)
    model.fit(features.iloc[train], log_stars[train])
    predictions: np.ndarray = model.predict(features.iloc[test])
    return predictions


@ray.remote(num_cpus=1)
def _refit(
    candidate: Candidate,
    feature_names: list[str],
    features: pd.DataFrame,
    log_stars: np.ndarray,
    seed: int,
) -> Any:
    return candidate.build(feature_names, seed).fit(features, log_stars)


def run_search(
    features: pd.DataFrame,
    log_stars: np.ndarray,
    candidates: Sequence[Candidate],
    folds: Sequence[Fold],
    *,
    seed: int,
    progress: SearchProgress | None = None,
    eta: int = ETA,
    min_rows: int = MIN_ROWS,
) -> SearchResult:
    if not candidates:
        raise ValueError("the search needs at least one candidate")
    feature_names = list(features.columns)
    features_ref = ray.put(features)
    stars_ref = ray.put(log_stars)
    # Nested slices: a rung's rows include the previous rung's, so scores improve comparably.
    rng = np.random.default_rng(seed)
    shuffled = [(rng.permutation(train), test) for train, test in folds]
    schedule = rung_rows(min(len(train) for train, _ in folds), eta=eta, min_rows=min_rows)

    trials: list[Trial] = []
    alive = list(candidates)
    best: Trial | None = None
    rung_trials: list[Trial] = []
    for rung, rows in enumerate(schedule):
        if progress:
            progress.rung_started(rung, len(schedule), len(alive), rows)
        last_rung = rung == len(schedule) - 1
        pending: dict[ray.ObjectRef[np.ndarray], tuple[int, int]] = {}
        for index, candidate in enumerate(alive):
            for fold, (train, test) in enumerate(shuffled):
                train_slice = train if last_rung else train[:rows]
                ref = _fit_predict.remote(
                    candidate,
                    feature_names,
                    features_ref,
                    stars_ref,
                    train_slice,
                    test,
                    seed,
                    1.0 if last_rung else rows / schedule[-1],
                )
                pending[ref] = (index, fold)
        out_of_fold = {index: np.empty_like(log_stars) for index in range(len(alive))}
        folds_left = {index: len(folds) for index in range(len(alive))}
        rung_trials = []
        while pending:
            [done], _ = ray.wait(list(pending), num_returns=1)
            index, fold = pending.pop(done)
            out_of_fold[index][shuffled[fold][1]] = ray.get(done)
            folds_left[index] -= 1
            if folds_left[index]:
                continue
            trial = Trial(
                candidate=alive[index],
                rung=rung,
                train_rows=rows,
                full_folds=last_rung,
                metrics=score(log_stars, out_of_fold[index]),
                out_of_fold=out_of_fold[index],
            )
            rung_trials.append(trial)
            if last_rung and (best is None or trial.metrics.rmsle < best.metrics.rmsle):
                best = trial
            if progress:
                progress.trial_done(trial, best or min(rung_trials, key=_rmsle))
        trials.extend(rung_trials)
        alive = survivors(rung_trials, eta=eta)

    assert best is not None  # the last rung ran at least one trial
    finalists: dict[str, Trial] = {}
    for trial in sorted(rung_trials, key=_rmsle):
        finalists.setdefault(trial.candidate.family, trial)
    return SearchResult(
        trials=trials,
        finalists=finalists,
        winner=best,
        baseline=baseline_metrics(log_stars, folds),
    )


def refit(candidate: Candidate, features: pd.DataFrame, log_stars: np.ndarray, *, seed: int) -> Any:
    """Fit the winner on every row, as Ray work so a cluster's driver stays small."""
    return ray.get(_refit.remote(candidate, list(features.columns), features, log_stars, seed))


def _rmsle(trial: Trial) -> float:
    return trial.metrics.rmsle
