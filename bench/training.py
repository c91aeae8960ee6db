"""Successive halving on Ray against scikit-learn's exhaustive search, same candidates and folds.

Both searches run in this process, on the bundled real sample, over the candidates of one
budget and the same K folds. Wall time excludes starting Ray (a RayJob finds it running) and
includes everything else, worker start-up of both sides included. The score gap compares the
candidate each search picked, scored the same way (mean fold RMSE on log1p(stars), from the
exhaustive search's own results), so it measures only what halving gave up.

    python bench/training.py [--quick] [--budget standard] [--folds 5]

Last line: `training: starcast_s=... sklearn_s=... time_ratio=... starcast_rmsle=...
sklearn_rmsle=... score_gap_pct=...`
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
import ray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import GridSearchCV

from starcast.dataset import read_dataset
from starcast.features import feature_names
from starcast.sample import sample_dataset_uri
from starcast.training.config import Budget
from starcast.training.families import Candidate, candidates
from starcast.training.search import make_folds, run_search


class CandidateRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """One estimator over the whole search space, so GridSearchCV can search it by index."""

    def __init__(self, space: Sequence[Candidate] = (), index: int = 0, seed: int = 0) -> None:
        self.space = space
        self.index = index
        self.seed = seed

    def fit(self, features: pd.DataFrame, log_stars: np.ndarray) -> Self:
        model = self.space[self.index].build(list(features.columns), self.seed)
        self.model_ = model.fit(features, log_stars)
        return self

    def predict(self, features: pd.DataFrame) -> Any:
        return self.model_.predict(features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 folds instead of 5 (~1 minute)")
    parser.add_argument("--budget", type=Budget, default=Budget.STANDARD, choices=list(Budget))
    parser.add_argument("--folds", type=int, default=None, help="K of K-fold CV (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folds_k = args.folds or (3 if args.quick else 5)

    dataset = read_dataset(sample_dataset_uri())
    names = [
        n
        for n in feature_names(include_leaky=False)
        if n not in dataset.report.unavailable_features
    ]
    features = dataset.features[names]
    log_stars = np.log1p(dataset.stars)
    folds = make_folds(len(features), folds_k, args.seed)
    space = candidates(args.budget)
    cpus = os.cpu_count() or 1
    print(
        f"{len(features)} repositories, {len(names)} features, {len(space)} candidates "
        f"({args.budget} budget), {folds_k} folds, {cpus} CPUs"
    )

    started = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    print(f"ray.init: {time.perf_counter() - started:.1f}s (not counted)")
    started = time.perf_counter()
    halving = run_search(features, log_stars, space, folds, seed=args.seed)
    starcast_s = time.perf_counter() - started
    fits = sum(len(folds) for _ in halving.trials)
    print(f"starcast (Ray, successive halving): {starcast_s:.1f}s, {fits} fold fits")
    ray.shutdown()

    started = time.perf_counter()
    grid = GridSearchCV(
        CandidateRegressor(space=space, seed=args.seed),
        {"index": list(range(len(space)))},
        scoring="neg_root_mean_squared_error",
        cv=folds,
        n_jobs=-1,
        refit=False,
    ).fit(features, log_stars)
    sklearn_s = time.perf_counter() - started
    print(f"scikit-learn (GridSearchCV, n_jobs=-1): {sklearn_s:.1f}s, {len(space) * folds_k} fits")

    mean_fold_rmse = -np.asarray(grid.cv_results_["mean_test_score"])
    sklearn_pick = int(grid.best_index_)
    starcast_pick = space.index(halving.winner.candidate)
    starcast_rmsle = float(mean_fold_rmse[starcast_pick])
    sklearn_rmsle = float(mean_fold_rmse[sklearn_pick])
    print(f"starcast picked  {space[starcast_pick].label}")
    print(f"sklearn picked   {space[sklearn_pick].label}")
    print(
        "training: "
        f"starcast_s={starcast_s:.1f} sklearn_s={sklearn_s:.1f} "
        f"time_ratio={starcast_s / sklearn_s:.3f} "
        f"starcast_rmsle={starcast_rmsle:.4f} sklearn_rmsle={sklearn_rmsle:.4f} "
        f"score_gap_pct={100 * (starcast_rmsle - sklearn_rmsle) / sklearn_rmsle:.2f}"
    )


if __name__ == "__main__":
    main()
