"""Successive halving over model candidates, every (candidate, fold) fit a task of an executor.

Rung 0 fits every candidate on a small slice of each training fold; each later rung keeps the
best third and triples the rows, until the last rung fits on whole folds. The best candidate of
every family always holds one of the seats, so each family gets a whole-fold CV score for the
report, and the winner is chosen among whole-fold scores only.

The shared preprocessing (impute, log1p, scale, one-hot) has nothing a candidate changes, so it
runs once per fold of a rung, as its own task, and the fits of that rung start from its arrays:
the scores are those of fitting each candidate's whole pipeline, for a fraction of the work.

The tasks go to an executor (`executors.py`): a process pool on one machine, Ray on a cluster.
The search is the same on both; only where a task runs and how its arrays travel differ.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from starcast.artifact import Metrics
from starcast.training.executors import SearchExecutor
from starcast.training.families import Candidate
from starcast.training.metrics import score
from starcast.training.pipeline import build_preprocessor

ETA: Final = 3
MIN_ROWS: Final = 400

Fold = tuple[np.ndarray, np.ndarray]
FoldArrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test


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


def slowest_first(candidates: Sequence[Candidate], fit_seconds: Mapping[str, float]) -> list[int]:
    """Positions of the candidates, those whose folds took longest at the previous rung first.

    Started first, the long fits do not end the rung alone on one core while the others wait;
    candidates without a time (the first rung) keep their order.
    """
    return sorted(
        range(len(candidates)), key=lambda index: -fit_seconds.get(candidates[index].label, 0.0)
    )


def baseline_metrics(log_stars: np.ndarray, folds: Sequence[Fold]) -> Metrics:
    """Predict each validation fold with the median of its training fold."""
    predictions = np.empty_like(log_stars)
    for train, test in folds:
        predictions[test] = np.median(log_stars[train])
    return score(log_stars, predictions)


def _prepare_fold(
    feature_names: list[str],
    features: pd.DataFrame,
    log_stars: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
) -> FoldArrays:
    """One fold of one rung through the shared preprocessing, fitted on its training rows.

    The preprocessing has no parameter a candidate changes, so every fit of the rung on this
    fold starts from these arrays: the same numbers a whole pipeline's fit would compute, once
    per fold instead of once per fit, and the DataFrame is read here only.
    """
    preprocess = build_preprocessor(feature_names)
    x_train: np.ndarray = preprocess.fit_transform(features.iloc[train])
    x_test: np.ndarray = preprocess.transform(features.iloc[test])
    return x_train, log_stars[train], x_test


def _fit_predict(
    candidate: Candidate, seed: int, fidelity: float, fold_arrays: FoldArrays
) -> tuple[np.ndarray, float]:
    """The fold's predictions and the seconds the fit took (to order the next rung)."""
    started = time.perf_counter()
    x_train, y_train, x_test = fold_arrays
    regressor = candidate.regressor(seed, fidelity)
    regressor.fit(x_train, y_train)
    predictions: np.ndarray = regressor.predict(x_test)
    return predictions, time.perf_counter() - started


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
    executor: SearchExecutor,
    progress: SearchProgress | None = None,
    eta: int = ETA,
    min_rows: int = MIN_ROWS,
) -> SearchResult:
    if not candidates:
        raise ValueError("the search needs at least one candidate")
    feature_names = list(features.columns)
    features_ref = executor.put(features)
    stars_ref = executor.put(log_stars)
    # Nested slices: a rung's rows include the previous rung's, so scores improve comparably.
    rng = np.random.default_rng(seed)
    shuffled = [(rng.permutation(train), test) for train, test in folds]
    schedule = rung_rows(min(len(train) for train, _ in folds), eta=eta, min_rows=min_rows)

    def prepare(rung: int) -> list[Future[Any]]:
        """Each fold's arrays for the rung; futures of handles the fits take (kept in Ray's
        object store on a cluster)."""
        last_rung = rung == len(schedule) - 1
        return [
            executor.submit_kept(
                _prepare_fold,
                feature_names,
                features_ref,
                stars_ref,
                train if last_rung else train[: schedule[rung]],
                test,
            )
            for train, test in shuffled
        ]

    trials: list[Trial] = []
    alive = list(candidates)
    fit_seconds: dict[str, float] = {}  # the previous rung's, by candidate label
    rung_trials: list[Trial] = []
    prepared = {0: prepare(0)}
    for rung, rows in enumerate(schedule):
        if progress:
            progress.rung_started(rung, len(schedule), len(alive), rows)
        last_rung = rung == len(schedule) - 1
        fidelity = 1.0 if last_rung else rows / schedule[-1]
        order = slowest_first(alive, fit_seconds)
        preparing = {future: fold for fold, future in enumerate(prepared[rung])}
        fitting: dict[Future[Any], tuple[int, int]] = {}
        out_of_fold = {index: np.empty_like(log_stars) for index in range(len(alive))}
        folds_left = {index: len(folds) for index in range(len(alive))}
        fit_seconds = {}
        done_trials: dict[int, Trial] = {}
        best_so_far: Trial | None = None
        while preparing or fitting:
            done, _ = wait([*preparing, *fitting], return_when=FIRST_COMPLETED)
            ready = sorted(preparing.pop(future) for future in done if future in preparing)
            # A fold's fits go as soon as its arrays are ready, the slowest candidates first.
            for index in order:
                for fold in ready:
                    arrays = prepared[rung][fold].result()
                    fit = executor.submit(_fit_predict, alive[index], seed, fidelity, arrays)
                    fitting[fit] = (index, fold)
            if ready and not preparing and not last_rung:
                # Queued behind this rung's fits: they run as its last fits leave cores free.
                prepared[rung + 1] = prepare(rung + 1)
            for future in sorted(
                (future for future in done if future in fitting), key=fitting.__getitem__
            ):
                index, fold = fitting.pop(future)
                predictions, seconds = future.result()
                out_of_fold[index][shuffled[fold][1]] = predictions
                label = alive[index].label
                fit_seconds[label] = fit_seconds.get(label, 0.0) + seconds
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
                done_trials[index] = trial
                if best_so_far is None or trial.metrics.rmsle < best_so_far.metrics.rmsle:
                    best_so_far = trial
                if progress:
                    progress.trial_done(trial, best_so_far)
        del prepared[rung]  # this rung's fold arrays can go (from Ray's object store too)
        # In candidate order, whatever order the fits finished in: ties rank the same each run.
        rung_trials = [done_trials[index] for index in range(len(alive))]
        trials.extend(rung_trials)
        alive = survivors(rung_trials, eta=eta)

    best = min(rung_trials, key=_rmsle)  # the last rung: whole folds
    finalists: dict[str, Trial] = {}
    for trial in sorted(rung_trials, key=_rmsle):
        finalists.setdefault(trial.candidate.family, trial)
    return SearchResult(
        trials=trials,
        finalists=finalists,
        winner=best,
        baseline=baseline_metrics(log_stars, folds),
    )


def refit(
    candidate: Candidate,
    features: pd.DataFrame,
    log_stars: np.ndarray,
    *,
    seed: int,
    executor: SearchExecutor,
) -> Any:
    """Fit the winner on every row, in a worker like every fit: a cluster's driver stays small,
    and the model is the same number for number on either executor (one thread per fit)."""
    future = executor.submit(_refit, candidate, list(features.columns), features, log_stars, seed)
    return future.result()


def _rmsle(trial: Trial) -> float:
    return trial.metrics.rmsle
