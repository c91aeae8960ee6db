"""Factories for starcast records and small fitted models, shared by tests of every component."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from starcast import artifact
from starcast.artifact import DatasetInfo, FamilyResult, FeatureField, Metrics, ModelManifest
from starcast.dataset import read_dataset
from starcast.features import FEATURES_BY_NAME, feature_names
from starcast.sample import sample_dataset_uri
from starcast.training.pipeline import build_pipeline


def record(**overrides: object) -> dict[str, object]:
    """One valid starcast record, as the extractor writes it; override any column."""
    base: dict[str, object] = {
        "node_id": "R_kgDOAAAAAQ",
        "full_name": "octo/widget",
        "stars": 1200,
        "snapshot_at": "2026-01-01T00:00:00Z",
        "created_at": "2020-01-01T00:00:00Z",
        "pushed_at": "2025-12-01T00:00:00Z",
        "forks": 80,
        "open_issues": 12,
        "closed_issues": 140,
        "commits_total": 900,
        "contributors": 14,
        "topics": 5,
        "has_pages": 0,
        "primary_language": "Python",
        "license": "MIT",
    }
    base.update(overrides)
    return base


def records_frame(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def small_model_artifact(rows: int = 800) -> tuple[bytes, ModelManifest]:
    """A ridge pipeline fitted on the real sample (no Ray: seconds), and its manifest."""
    dataset = read_dataset(sample_dataset_uri())
    names = [
        name
        for name in feature_names(include_leaky=False)
        if name not in dataset.report.unavailable_features
    ]
    features = dataset.features[names].iloc[:rows]
    log_stars = np.log1p(dataset.stars[:rows])
    model = build_pipeline(names, Ridge(alpha=1.0)).fit(features, log_stars)
    model_bytes = artifact.serialize_model(model)
    digest = hashlib.sha256(model_bytes).hexdigest()
    metrics = Metrics(rmsle=0.7, r2_log=0.1, mae_log=0.6, mdape=45.0)
    manifest = ModelManifest(
        model_version=artifact.new_model_version(digest),
        created_at=datetime.now(UTC),
        features=[FeatureField(name=name, kind=FEATURES_BY_NAME[name].kind) for name in names],
        cv_folds=5,
        winner=FamilyResult(family="ridge", params={"alpha": 1.0}, metrics=metrics),
        families=[FamilyResult(family="ridge", params={"alpha": 1.0}, metrics=metrics)],
        baseline=Metrics(rmsle=0.72, r2_log=0.0, mae_log=0.6, mdape=47.0),
        dataset=DatasetInfo(uri=dataset.uri, sha256=dataset.sha256, rows=rows),
        library_versions=artifact.library_versions(),
        model_sha256=digest,
    )
    return model_bytes, manifest
