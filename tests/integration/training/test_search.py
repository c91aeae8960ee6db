"""The search on real Ray scores every trial exactly as fitting its whole pipeline would."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from starcast.training.config import Budget
from starcast.training.families import candidates
from starcast.training.metrics import score
from starcast.training.search import make_folds, run_search, rung_rows
from tests.support.local_ray import local_ray
from tests.support.models import sample_training_data

pytestmark = pytest.mark.integration

ROWS = 1800  # three folds of 1,200 training rows: two rungs (400, then 1,200 rows)
SEED = 5


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    with local_ray() as address:
        yield address


def test_every_trial_scores_what_its_whole_pipeline_scores(ray_address: str) -> None:
    all_features, all_stars, names = sample_training_data()
    features, log_stars = all_features.iloc[:ROWS].reset_index(drop=True), all_stars[:ROWS]
    folds = make_folds(ROWS, 3, SEED)
    space = candidates(Budget.QUICK)

    result = run_search(features, log_stars, space, folds, seed=SEED)

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
