"""Model artifacts for tests, built in seconds without a search: the factory and its fixtures.

`build_model_artifact` fits the training pipeline (starcast.training.pipeline) on the bundled
sample and commits a real artifact (skops model, manifest, digest) with `write_artifact`, exactly
as a training run would, so loaders and workers run their real code paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor

from starcast import artifact
from starcast.artifact import DatasetInfo, FamilyResult, LoadedModel, Metrics, ModelManifest
from starcast.dataset import Dataset, read_dataset
from starcast.features import feature_names
from starcast.sample import sample_dataset_uri
from starcast.training.pipeline import build_pipeline

PLACEHOLDER_METRICS = Metrics(rmsle=1.0, r2_log=0.0, mae_log=1.0, mdape=50.0)


@dataclass(frozen=True)
class ModelArtifact:
    uri: str
    sha256: str
    version: str
    path: Path


@cache
def sample_dataset() -> Dataset:
    return read_dataset(sample_dataset_uri())


def sample_training_data(replicas: int = 1) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Features (without popularity leaks) and log1p(stars) of the sample, optionally repeated."""
    dataset = sample_dataset()
    names = [
        name
        for name in feature_names(include_leaky=False)
        if name not in dataset.report.unavailable_features
    ]
    features = dataset.features[names]
    target = np.log1p(dataset.stars)
    if replicas > 1:
        features = pd.concat([features] * replicas, ignore_index=True)
        target = np.tile(target, replicas)
    return features, target, names


def fitted_model(
    *, regressor: Any | None = None, family: str = "ridge", replicas: int = 1
) -> tuple[bytes, ModelManifest]:
    """Fit `regressor` (default Ridge) in the training pipeline: model bytes and manifest."""
    features, target, names = sample_training_data(replicas)
    model = build_pipeline(names, regressor if regressor is not None else Ridge())
    model.fit(features, target)
    model_bytes = artifact.serialize_model(model)
    return model_bytes, manifest_for(model_bytes, names, rows=len(features), family=family)


def manifest_for(
    model_bytes: bytes, feature_names: list[str], *, rows: int, family: str = "ridge"
) -> ModelManifest:
    """The manifest a training run would write for these model bytes (placeholder metrics)."""
    dataset = sample_dataset()
    result = FamilyResult(family=family, params={}, metrics=PLACEHOLDER_METRICS)
    return artifact.new_manifest(
        model_bytes,
        feature_names=feature_names,
        cv_folds=2,
        winner=result,
        families=[result],
        baseline=PLACEHOLDER_METRICS,
        dataset=DatasetInfo(uri=dataset.uri, sha256=dataset.sha256, rows=rows),
    )


def loaded_model(pipeline: Any, feature_names: list[str], rows: int) -> LoadedModel:
    """A fitted pipeline as a worker holds it after loading its artifact."""
    model_bytes = artifact.serialize_model(pipeline)
    return LoadedModel(pipeline, manifest_for(model_bytes, feature_names, rows=rows))


def build_model_artifact(
    directory: Path,
    *,
    regressor: Any | None = None,
    family: str = "ridge",
    replicas: int = 1,
) -> ModelArtifact:
    """Fit `regressor` (default Ridge) in the training pipeline and commit it at `directory`."""
    model_bytes, manifest = fitted_model(regressor=regressor, family=family, replicas=replicas)
    uri = directory.as_uri()
    artifact.write_artifact(uri, model_bytes, manifest)
    return ModelArtifact(
        uri=uri, sha256=manifest.model_sha256, version=manifest.model_version, path=directory
    )


def build_slow_model_artifact(directory: Path, replicas: int = 15) -> ModelArtifact:
    """A model whose predict takes about a second per thousand rows, on purpose.

    A KD tree with a single leaf makes k-neighbours compare every query with every training
    row, in compiled code and constant memory: tests can catch a worker mid-batch reliably.
    """
    features, _, _ = sample_training_data(replicas)
    regressor = KNeighborsRegressor(n_neighbors=5, algorithm="kd_tree", leaf_size=len(features))
    return build_model_artifact(
        directory, regressor=regressor, family="k_neighbors", replicas=replicas
    )


@pytest.fixture(scope="session")
def model_artifact(tmp_path_factory: pytest.TempPathFactory) -> ModelArtifact:
    """A small, fast model (Ridge on the sample) for tests that need any working model."""
    return build_model_artifact(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def slow_model_artifact(tmp_path_factory: pytest.TempPathFactory) -> ModelArtifact:
    """A model slow enough (about a second per thousand rows) to kill a worker mid-batch."""
    return build_slow_model_artifact(tmp_path_factory.mktemp("slow-model"))
