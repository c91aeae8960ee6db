"""The baseline a scikit-learn user would write: the same search as `starcast train`, no Ray.

Same features, same candidates, same K folds, successive halving with the same factor and a
first rung of the same training rows, all cores (`n_jobs=-1`, joblib's process pool); then refit
the winner on every row and write it with skops. bench/training.py runs this file as a whole
process against `starcast train`, and imports its search for the in-process comparison.

    python -m bench.sklearn_train --data file:///.../repos.parquet --out model.skops [--folds 5]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.experimental import enable_halving_search_cv  # noqa: F401 - enables the import below
from sklearn.model_selection import HalvingGridSearchCV

from starcast.dataset import read_dataset
from starcast.features import feature_names
from starcast.training.config import Budget
from starcast.training.families import Candidate, candidates
from starcast.training.search import ETA, make_folds, rung_rows

Fold = tuple[np.ndarray, np.ndarray]


class CandidateRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """One estimator over the whole search space, so scikit-learn can search it by index."""

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


def halving_search(
    space: Sequence[Candidate],
    features: pd.DataFrame,
    log_stars: np.ndarray,
    folds: Sequence[Fold],
    *,
    seed: int,
    refit: bool,
) -> HalvingGridSearchCV:
    """sklearn's successive halving, set up as close to starcast's as the two allow.

    The same number of rungs, the last on all rows: starcast's rungs count training rows per
    fold and sklearn's the rows it subsamples before the folds, so sklearn starts at all rows
    over factor^(rungs - 1), which gives its first rung starcast's first-rung training rows.
    """
    rungs = len(rung_rows(min(len(train) for train, _ in folds)))
    return HalvingGridSearchCV(
        CandidateRegressor(space=space, seed=seed),
        {"index": list(range(len(space)))},
        factor=ETA,
        resource="n_samples",
        min_resources=len(features) // ETA ** (rungs - 1),
        scoring="neg_root_mean_squared_error",
        cv=list(folds),
        n_jobs=-1,
        refit=refit,
        random_state=seed,
    ).fit(features, log_stars)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="dataset URI, as for `starcast train`")
    parser.add_argument("--out", required=True, type=Path, help="model file to write")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--budget", type=Budget, default=Budget.STANDARD, choices=list(Budget))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dataset = read_dataset(args.data)
    names = [
        name
        for name in feature_names(include_leaky=False)
        if name not in dataset.report.unavailable_features
    ]
    features = dataset.features[names]
    log_stars = np.log1p(dataset.stars)
    folds = make_folds(len(features), args.folds, args.seed)
    space = candidates(args.budget)
    search = halving_search(space, features, log_stars, folds, seed=args.seed, refit=True)
    sio.dump(search.best_estimator_.model_, args.out)
    print(
        f"best {space[search.best_params_['index']].label} "
        f"RMSLE {-search.best_score_:.4f}, written to {args.out}"
    )


if __name__ == "__main__":
    main()
