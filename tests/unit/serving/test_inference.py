"""The worker's compiled prediction path predicts exactly what the artifact's pipeline predicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from starcast.artifact import LoadedModel, stars_from_target
from starcast.features import FEATURES_BY_NAME, FeatureKind
from starcast.serving.inference import (
    TREELITE_MAX_ROWS,
    CompiledPredictor,
    CompileError,
    PipelinePredictor,
    compile_model,
    predictor_for,
)
from starcast.serving.wire import FeatureValue, PredictBatch
from starcast.training.pipeline import MIN_CATEGORY_FREQUENCY, build_pipeline
from tests.support.models import loaded_model, sample_training_data


def loaded(regressor: Any) -> LoadedModel:
    features, target, names = sample_training_data()
    return loaded_model(build_pipeline(names, regressor).fit(features, target), names, len(target))


def batch_of(frame: pd.DataFrame) -> PredictBatch:
    """The frame as the frontend sends it: column lists, unknown values as None."""
    columns: dict[str, list[FeatureValue]] = {}
    for name in frame.columns:
        values = frame[name].astype(object).where(frame[name].notna(), None)
        columns[str(name)] = [
            None if value is None else value if isinstance(value, str) else float(value)
            for value in values
        ]
    return PredictBatch(rows=len(frame), columns=columns, sent_at=0.0)


@pytest.mark.parametrize(
    "regressor",
    [
        Ridge(),
        HistGradientBoostingRegressor(max_iter=30, random_state=0),
        RandomForestRegressor(n_estimators=5, max_depth=6, random_state=0),
        KNeighborsRegressor(n_neighbors=7),
    ],
    ids=lambda regressor: type(regressor).__name__,
)
def test_every_family_predicts_the_sample_as_its_pipeline_does(regressor: Any) -> None:
    model = loaded(regressor)
    features, _, _ = sample_training_data()

    compiled = compile_model(model)

    # Small batches go through Treelite for tree ensembles, large ones through scikit-learn.
    for rows in (1, 16, TREELITE_MAX_ROWS, TREELITE_MAX_ROWS + 1, len(features)):
        part = features.iloc[:rows]
        np.testing.assert_allclose(
            compiled.predict_stars(batch_of(part)), model.predict_stars(part), rtol=1e-12
        )


def repositories_with_two_categories(rows: int, seed: int) -> pd.DataFrame:
    """Two categorical features with rare, missing and frequent values, and sparse numbers."""
    random = np.random.default_rng(seed)
    names = [n for n, f in FEATURES_BY_NAME.items() if f.kind == FeatureKind.CATEGORICAL]
    numeric = ["open_issues", "commits_total", "age_days"]
    frame = pd.DataFrame({name: random.lognormal(3, 2, rows) for name in numeric})
    frame.loc[random.random(rows) < 0.2, "open_issues"] = np.nan
    for name in names:
        frequent = [f"{name}-{index}" for index in range(4)]
        rare = [f"{name}-rare-{index}" for index in range(MIN_CATEGORY_FREQUENCY * 2)]
        values = random.choice(frequent, rows).astype(object)
        values[: len(rare)] = rare  # each seen once: infrequent
        values[random.random(rows) < 0.1] = np.nan
        frame[name] = values
    return frame


def test_rare_missing_and_unseen_categories_are_encoded_as_the_pipeline_does() -> None:
    training = repositories_with_two_categories(600, seed=1)
    target = np.log1p(np.random.default_rng(2).lognormal(2, 1, len(training)))
    names = list(training.columns)
    pipeline = build_pipeline(names, Ridge()).fit(training, target)
    model = loaded_model(pipeline, names, len(training))
    encoder = pipeline.named_steps["preprocess"].named_transformers_["categorical"][-1]
    assert all(rare is not None for rare in encoder.infrequent_categories_)
    serving = repositories_with_two_categories(300, seed=3)
    serving.loc[serving.index[::7], "license"] = "a-license-nobody-trained-on"
    expected = stars_from_target(pipeline.predict(serving))

    compiled = compile_model(model)

    np.testing.assert_allclose(compiled.predict_stars(batch_of(serving)), expected, rtol=1e-12)


def test_a_batch_without_some_features_imputes_them() -> None:
    model = loaded(Ridge())
    features, _, _ = sample_training_data()
    first = features.iloc[:5].copy()
    partial = batch_of(first.drop(columns=["license", "contributors"]))
    first[["license", "contributors"]] = None

    stars = compile_model(model).predict_stars(partial)

    np.testing.assert_allclose(stars, model.predict_stars(first), rtol=1e-12)


def test_a_pipeline_of_another_shape_is_served_as_it_is_and_says_why() -> None:
    model = loaded(Ridge())
    numeric = model.estimator.named_steps["preprocess"].named_transformers_["numeric"]
    numeric.steps[1] = ("log", FunctionTransformer(np.log))

    predictor, reason = predictor_for(model)

    assert isinstance(predictor, PipelinePredictor)
    assert reason is not None and "not numpy.log1p" in reason


def test_a_model_that_is_not_a_pipeline_is_refused_with_its_shape() -> None:
    model = loaded(Ridge())
    bare = LoadedModel(Pipeline([("regress", Ridge())]), model.manifest)

    with pytest.raises(
        CompileError, match=r"expected Pipeline\(\[ColumnTransformer, regressor\]\)"
    ):
        compile_model(bare)


def test_the_compiled_path_is_what_predictor_for_picks() -> None:
    predictor, reason = predictor_for(loaded(Ridge()))

    assert isinstance(predictor, CompiledPredictor)
    assert reason is None
    assert predictor.kind == "compiled"
