"""What the frontend says about the model it serves: version, CV score, the features it reads.

Two sources: the artifact the frontend was given (`STARCAST_MODEL_URI`: the manifest and
`report.png`, read once at start), and every worker's result, which names the model version and
the features it reads, so a request is told which of its features the model that answered it
ignored, whatever the frontend was given.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from starcast import artifact, storage
from starcast.artifact import ModelManifest
from starcast.features import FEATURES
from starcast.serving.batching import RowPrediction
from starcast.serving.schemas import CrossValidation, ModelInfo
from starcast.serving.wire import FeatureValue

logger = logging.getLogger(__name__)

REPORT_PATH: Final = "/model/report.png"
FEATURES_HEADER: Final = "Starcast-Model-Features"


@dataclass(frozen=True)
class ServedModel:
    uri: str
    manifest: ModelManifest
    report_png: bytes | None


def load_served_model(uri: str) -> ServedModel:
    """The manifest (ArtifactError if absent or invalid) and the report, if the artifact has one."""
    manifest = artifact.read_manifest(uri)
    try:
        report: bytes | None = storage.read_bytes(storage.join(uri, artifact.REPORT_FILE))
    except FileNotFoundError:
        logger.warning("artifact %s has no %s", uri, artifact.REPORT_FILE)
        report = None
    logger.info("serving pages for model %s from %s", manifest.model_version, uri)
    return ServedModel(uri=uri, manifest=manifest, report_png=report)


def ignored_of(used: Iterable[str]) -> list[str]:
    reads = set(used)
    return [feature.name for feature in FEATURES if feature.name not in reads]


def info_from_artifact(served: ServedModel) -> ModelInfo:
    manifest = served.manifest
    winner = manifest.winner
    return ModelInfo(
        model_version=manifest.model_version,
        features=manifest.feature_names,
        ignored_features=ignored_of(manifest.feature_names),
        cross_validation=CrossValidation(
            family=winner.family,
            folds=manifest.cv_folds,
            rmsle=winner.metrics.rmsle,
            r2_log=winner.metrics.r2_log,
            mdape=winner.metrics.mdape,
            baseline_rmsle=manifest.baseline.rmsle,
        ),
        created_at=manifest.created_at,
        report_url=REPORT_PATH if served.report_png is not None else None,
        source="artifact",
    )


def info_from_worker(prediction: RowPrediction) -> ModelInfo:
    return ModelInfo(
        model_version=prediction.model_version,
        features=list(prediction.model_features),
        ignored_features=ignored_of(prediction.model_features),
        source="worker",
    )


def feature_notes(
    given: Mapping[str, FeatureValue], prediction: RowPrediction
) -> tuple[list[str], list[str]]:
    """(given features the model ignored, warnings) for one repository given by features."""
    if not prediction.model_features:  # a worker from before results named the features
        return [], []
    reads = set(prediction.model_features)
    ignored = [name for name in given if name not in reads]
    reads_text = ", ".join(prediction.model_features)
    if not given:
        return [], [
            f"no features given: this is model {prediction.model_version}'s prediction for a "
            f"repository it knows nothing about; it reads {reads_text}"
        ]
    if len(ignored) == len(given):
        return ignored, [
            f"model {prediction.model_version} reads none of the features given "
            f"({', '.join(ignored)}), so they did not change this prediction; it reads "
            f"{reads_text}"
        ]
    return ignored, []
