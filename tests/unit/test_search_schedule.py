"""The successive-halving schedule, without Ray: rows per rung, who survives, who starts first."""

import numpy as np

from starcast.artifact import Metrics
from starcast.training.config import Budget
from starcast.training.families import FAMILIES_BY_NAME, Candidate, candidates
from starcast.training.pipeline import build_preprocessor
from starcast.training.search import Trial, rung_rows, slowest_first, survivors
from tests.support.models import sample_training_data


def _trial(family: str, rmsle: float) -> Trial:
    return Trial(
        candidate=Candidate(family, {"rmsle": rmsle}),
        rung=0,
        train_rows=100,
        full_folds=False,
        metrics=Metrics(rmsle=rmsle, r2_log=0.0, mae_log=0.0, mdape=0.0),
        out_of_fold=np.zeros(1),
    )


def test_rungs_triple_the_rows_and_end_on_whole_folds() -> None:
    assert rung_rows(5334) == [593, 1778, 5334]
    assert rung_rows(4445) == [494, 1482, 4445]
    assert rung_rows(1200) == [400, 1200]
    assert rung_rows(1000) == [1000]
    assert rung_rows(300) == [300]  # too small to halve: one rung on whole folds


def test_survivors_are_the_best_third_with_every_family_seated() -> None:
    trials = [
        _trial("random_forest", 0.60),
        _trial("random_forest", 0.61),
        _trial("random_forest", 0.62),
        _trial("random_forest", 0.63),
        _trial("random_forest", 0.64),
        _trial("ridge", 0.70),
        _trial("ridge", 0.71),
        _trial("k_neighbors", 0.80),
        _trial("k_neighbors", 0.81),
    ]
    kept = survivors(trials)
    # Three seats: the overall best, then each other family's best, in rank order.
    assert [(c.family, c.params["rmsle"]) for c in kept] == [
        ("random_forest", 0.60),
        ("ridge", 0.70),
        ("k_neighbors", 0.80),
    ]
    kept = survivors(trials[:5] + trials[5:6])  # six trials, two seats, two families
    assert [(c.family, c.params["rmsle"]) for c in kept] == [
        ("random_forest", 0.60),
        ("ridge", 0.70),
    ]
    many = [_trial("random_forest", 0.60 + i / 100) for i in range(9)] + [_trial("ridge", 0.9)]
    assert [c.params["rmsle"] for c in survivors(many)] == [0.60, 0.61, 0.62, 0.9]


def test_every_budget_searches_all_five_families() -> None:
    sizes = {budget: len(candidates(budget)) for budget in Budget}
    assert sizes[Budget.QUICK] < sizes[Budget.STANDARD] < sizes[Budget.FULL]
    for budget in Budget:
        assert {c.family for c in candidates(budget)} == set(FAMILIES_BY_NAME)
    assert len(FAMILIES_BY_NAME) >= 5
    assert {c.family for c in candidates(Budget.QUICK, ["ridge"])} == {"ridge"}


def test_small_rungs_screen_forests_with_fewer_trees() -> None:
    forest = Candidate("random_forest", {"n_estimators": 100, "min_samples_leaf": 2})
    assert forest.build(["topics"], seed=0, fidelity=1 / 9)[-1].n_estimators == 25
    assert forest.build(["topics"], seed=0, fidelity=1 / 2)[-1].n_estimators == 50
    assert forest.build(["topics"], seed=0)[-1].n_estimators == 100
    boosting = Candidate("hist_gradient_boosting", {"learning_rate": 0.1})
    assert boosting.build(["topics"], seed=0, fidelity=1 / 9)[-1].max_iter == 1000


def test_the_slowest_candidates_of_the_previous_rung_start_first() -> None:
    quick = candidates(Budget.QUICK)
    seconds = {quick[3].label: 9.0, quick[1].label: 4.0, quick[0].label: 0.5}
    order = slowest_first(quick, seconds)
    assert order[:3] == [3, 1, 0]
    assert order[3:] == [i for i in range(len(quick)) if i not in (0, 1, 3)]  # kept in order
    assert slowest_first(quick, {}) == list(range(len(quick)))  # first rung: no times yet


def test_a_regressor_on_the_preprocessed_fold_predicts_what_the_whole_pipeline_does() -> None:
    # The search preprocesses each fold once and fits only the regressor: it must be the same
    # model, number for number, as the pipeline the artifact holds.
    features, log_stars, names = sample_training_data()
    train, test = np.arange(0, 900), np.arange(900, 1200)
    preprocess = build_preprocessor(names)
    x_train = preprocess.fit_transform(features.iloc[train])
    x_test = preprocess.transform(features.iloc[test])
    for candidate in candidates(Budget.QUICK):
        for fidelity in (1 / 3, 1.0):
            pipeline = candidate.build(names, seed=3, fidelity=fidelity)
            pipeline.fit(features.iloc[train], log_stars[train])
            regressor = candidate.regressor(seed=3, fidelity=fidelity)
            regressor.fit(x_train, log_stars[train])
            np.testing.assert_array_equal(
                regressor.predict(x_test), pipeline.predict(features.iloc[test]), candidate.label
            )
