"""The model families the search tries, and their hyper-parameter grids per budget."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sklearn.ensemble import (
    ExtraTreesRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.linear_model import Ridge
from sklearn.model_selection import ParameterGrid
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline

from starcast.training.config import Budget
from starcast.training.pipeline import build_pipeline

Grid = Mapping[str, Sequence[Any]]


# Fewest trees a forest gets on a small rung: fewer make the ranking too noisy to trust.
MIN_SCREENING_TREES: Final = 25


@dataclass(frozen=True)
class Family:
    name: str
    make: Callable[[int], Any] = field(repr=False)
    grids: Mapping[Budget, Grid] = field(repr=False)
    # A parameter whose cost scales with it and that ranks candidates about the same when
    # smaller (trees of a forest): the halving search shrinks it on its small rungs.
    fidelity_param: str | None = None
    min_fidelity_value: int = MIN_SCREENING_TREES


@dataclass(frozen=True)
class Candidate:
    """One point of the search space: a family and the parameters of its regressor."""

    family: str
    params: Mapping[str, Any]

    @property
    def label(self) -> str:
        values = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.family}({values})"

    def build(self, feature_names: Sequence[str], seed: int, fidelity: float = 1.0) -> Pipeline:
        """The pipeline to fit; below fidelity 1 a screening version, cheaper where it can be."""
        return build_pipeline(feature_names, self.regressor(seed, fidelity))

    def regressor(self, seed: int, fidelity: float = 1.0) -> Any:
        """The pipeline's last step alone, for a search that preprocesses each fold once."""
        family = FAMILIES_BY_NAME[self.family]
        regressor = family.make(seed).set_params(**dict(self.params))
        if fidelity < 1 and family.fidelity_param is not None:
            full = int(regressor.get_params()[family.fidelity_param])
            screening = max(family.min_fidelity_value, math.ceil(full * fidelity))
            regressor.set_params(**{family.fidelity_param: min(full, screening)})
        return regressor


def _forest_grid(trees: int) -> dict[Budget, Grid]:
    return {
        Budget.QUICK: {"n_estimators": [trees], "max_features": [0.5], "min_samples_leaf": [2, 8]},
        Budget.STANDARD: {
            "n_estimators": [trees],
            "max_features": [0.33, 0.66, 1.0],
            "min_samples_leaf": [1, 4, 16],
        },
        Budget.FULL: {
            "n_estimators": [trees * 2],
            "max_features": [0.25, 0.5, 0.75, 1.0],
            "min_samples_leaf": [1, 2, 4, 8, 16],
        },
    }


FAMILIES: Final[tuple[Family, ...]] = (
    Family(
        "ridge",
        lambda seed: Ridge(),
        {
            Budget.QUICK: {"alpha": [1.0, 30.0]},
            Budget.STANDARD: {"alpha": [0.1, 1.0, 10.0, 100.0]},
            Budget.FULL: {"alpha": [0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0]},
        },
    ),
    Family(
        "random_forest",
        lambda seed: RandomForestRegressor(random_state=seed, n_jobs=1),
        _forest_grid(trees=100),
        fidelity_param="n_estimators",
    ),
    Family(
        "extra_trees",
        lambda seed: ExtraTreesRegressor(random_state=seed, n_jobs=1),
        _forest_grid(trees=100),
        fidelity_param="n_estimators",
    ),
    Family(
        "hist_gradient_boosting",
        # Early stopping on a held-out tenth picks the number of trees, so max_iter is a ceiling
        # and a small-data rung of the halving search costs little.
        lambda seed: HistGradientBoostingRegressor(
            random_state=seed, early_stopping=True, n_iter_no_change=20, max_iter=1000
        ),
        {
            Budget.QUICK: {"learning_rate": [0.1], "max_leaf_nodes": [15, 31]},
            Budget.STANDARD: {
                "learning_rate": [0.05, 0.1],
                "max_leaf_nodes": [7, 15, 31],
                "l2_regularization": [0.0, 1.0],
            },
            Budget.FULL: {
                "learning_rate": [0.02, 0.05, 0.1],
                "max_leaf_nodes": [7, 15, 31, 63],
                "l2_regularization": [0.0, 1.0, 10.0],
                "min_samples_leaf": [10, 40],
            },
        },
    ),
    Family(
        "k_neighbors",
        lambda seed: KNeighborsRegressor(),
        {
            Budget.QUICK: {"n_neighbors": [15, 40], "weights": ["uniform"]},
            Budget.STANDARD: {"n_neighbors": [5, 15, 40, 100], "weights": ["uniform", "distance"]},
            Budget.FULL: {
                "n_neighbors": [3, 5, 10, 20, 40, 80, 160],
                "weights": ["uniform", "distance"],
            },
        },
    ),
)
FAMILIES_BY_NAME: Final[dict[str, Family]] = {family.name: family for family in FAMILIES}


def candidates(budget: Budget, families: Sequence[str] | None = None) -> list[Candidate]:
    """Every candidate of the chosen families; unknown family names are a clear error."""
    chosen = list(families) if families else list(FAMILIES_BY_NAME)
    unknown = sorted(set(chosen) - set(FAMILIES_BY_NAME))
    if unknown:
        known = sorted(FAMILIES_BY_NAME)
        raise ValueError(f"unknown model families {unknown}; choose from {known}")
    return [
        Candidate(name, params)
        for name in chosen
        for params in ParameterGrid(dict(FAMILIES_BY_NAME[name].grids[budget]))
    ]
