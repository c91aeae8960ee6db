"""One training run: dataset in, committed model artifact out. The CLI and the RayJob call this.

The search's executor starts first, so a local pool's workers import while the dataset is read.
"""

from __future__ import annotations

import logging

import numpy as np

from starcast import artifact
from starcast.artifact import DatasetInfo, FamilyResult, ModelManifest
from starcast.dataset import read_dataset
from starcast.features import TARGET, feature_names
from starcast.training.config import TrainingConfig
from starcast.training.executors import SearchExecutor, open_executor
from starcast.training.families import Candidate, candidates
from starcast.training.report import render_report
from starcast.training.search import SearchProgress, Trial, make_folds, refit, run_search

logger = logging.getLogger(__name__)


class TrainingError(ValueError):
    """The run was asked for something it can't do; the message says what to change."""


def train_model(config: TrainingConfig, progress: SearchProgress | None = None) -> ModelManifest:
    search_space = candidates(config.budget, config.families)
    # Fail before minutes of training, not after.
    if artifact.exists(config.out_uri) and not config.overwrite:
        raise artifact.ArtifactExistsError(
            f"an artifact is already committed at {config.out_uri}; choose another --out "
            "or pass --overwrite"
        )
    with open_executor(config.executor) as executor:
        return _train(config, executor, search_space, progress)


def _train(
    config: TrainingConfig,
    executor: SearchExecutor,
    search_space: list[Candidate],
    progress: SearchProgress | None,
) -> ModelManifest:
    dataset = read_dataset(config.data_uri, timestamp_unit=config.timestamp_unit)
    names = [
        name
        for name in feature_names(include_leaky=config.include_popularity)
        if name not in dataset.report.unavailable_features
    ]
    if not names:
        raise TrainingError(f"dataset {config.data_uri} has none of the features the model uses")
    if len(dataset.records) < config.folds * 2:
        raise TrainingError(
            f"dataset {config.data_uri} has {len(dataset.records)} usable records; "
            f"{config.folds}-fold CV needs at least {config.folds * 2}"
        )
    features = dataset.features[names]
    log_stars = np.log1p(dataset.stars)
    folds = make_folds(len(features), config.folds, config.seed)

    logger.info(
        "searching %d candidates with %d-fold CV on %d records and %d features, on %s",
        len(search_space),
        config.folds,
        len(features),
        len(names),
        executor.description,
    )
    result = run_search(
        features,
        log_stars,
        search_space,
        folds,
        seed=config.seed,
        executor=executor,
        progress=progress,
    )
    logger.info("winner %s RMSLE %.4f", result.winner.candidate.label, result.winner.metrics.rmsle)
    model = refit(result.winner.candidate, features, log_stars, seed=config.seed, executor=executor)
    model_bytes = artifact.serialize_model(model)
    manifest = artifact.new_manifest(
        model_bytes,
        feature_names=names,
        cv_folds=config.folds,
        winner=_family_result(result.winner),
        families=[_family_result(trial) for trial in result.finalists.values()],
        baseline=result.baseline,
        dataset=DatasetInfo(uri=config.data_uri, sha256=dataset.sha256, rows=len(dataset.records)),
    )
    report_png = render_report(
        log_stars,
        result.winner.out_of_fold,
        {family: trial.metrics.rmsle for family, trial in result.finalists.items()},
        result.baseline,
        title=f"starcast model {manifest.model_version} ({len(features)} repositories, "
        f"{TARGET} on log1p)",
    )
    return artifact.write_artifact(
        config.out_uri,
        model_bytes,
        manifest,
        {artifact.REPORT_FILE: report_png},
        overwrite=config.overwrite,
    )


def _family_result(trial: Trial) -> FamilyResult:
    return FamilyResult(
        family=trial.candidate.family, params=dict(trial.candidate.params), metrics=trial.metrics
    )
