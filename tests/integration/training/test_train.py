"""Real training runs on the bundled sample: search, refit, committed artifact; on one machine in
the local process pool without Ray, under RAY_ADDRESS (the RayJob's entrypoint) on Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from starcast import artifact
from starcast.artifact import ArtifactExistsError, load_artifact
from starcast.features import compute_features
from starcast.training.config import Budget, TrainingConfig
from starcast.training.families import FAMILIES_BY_NAME
from starcast.training.run import train_model
from starcast.training.search import Trial
from tests.support.local_ray import local_ray
from tests.support.records import record, records_frame

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray instance shared by the module; subprocesses join it through RAY_ADDRESS."""
    with local_ray() as address:
        yield address


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run on one machine: no RAY_ADDRESS, so the search runs in the local process pool."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("STARCAST_TRAINING_EXECUTOR", raising=False)


class RecordingProgress:
    def __init__(self) -> None:
        self.rungs: list[tuple[int, int, int, int]] = []
        self.trials: list[Trial] = []

    def rung_started(self, rung: int, rungs: int, candidates: int, train_rows: int) -> None:
        self.rungs.append((rung, rungs, candidates, train_rows))

    def trial_done(self, trial: Trial, best: Trial) -> None:
        assert best.metrics.rmsle <= trial.metrics.rmsle or not trial.full_folds
        self.trials.append(trial)


def test_quick_search_commits_an_artifact_that_predicts(local: None, tmp_path: Path) -> None:
    out = (tmp_path / "model").as_uri()
    progress = RecordingProgress()
    manifest = train_model(
        TrainingConfig(out_uri=out, budget=Budget.QUICK, folds=3, seed=7), progress
    )

    # Successive halving: every rung has fewer candidates on more rows.
    assert [rung[0] for rung in progress.rungs] == list(range(len(progress.rungs)))
    assert len(progress.rungs) >= 2
    assert progress.rungs[0][2] > progress.rungs[-1][2]
    assert progress.rungs[0][3] < progress.rungs[-1][3]
    assert len(progress.trials) == sum(rung[2] for rung in progress.rungs)

    # Every family is scored on whole folds, and the winner beats the median baseline.
    assert {result.family for result in manifest.families} == set(FAMILIES_BY_NAME)
    assert manifest.winner.metrics.rmsle == min(r.metrics.rmsle for r in manifest.families)
    assert manifest.winner.metrics.rmsle < manifest.baseline.rmsle
    assert manifest.winner.metrics.r2_log > manifest.baseline.r2_log
    assert manifest.cv_folds == 3
    assert "forks" not in manifest.feature_names  # popularity features are opt-in
    assert {"ray", "scikit-learn", "skops"} <= manifest.library_versions.keys()

    loaded = load_artifact(out, expected_sha256=manifest.model_sha256)
    stars = loaded.predict_stars(compute_features(records_frame(record(), record(commits_total=1))))
    assert stars.shape == (2,)
    assert (stars > 0).all()
    assert (tmp_path / "model" / "report.png").read_bytes()[:4] == b"\x89PNG"

    with pytest.raises(ArtifactExistsError, match="pass --overwrite"):
        train_model(TrainingConfig(out_uri=out, budget=Budget.QUICK))


def test_popularity_features_are_used_on_request(local: None, tmp_path: Path) -> None:
    manifest = train_model(
        TrainingConfig(
            out_uri=(tmp_path / "model").as_uri(),
            budget=Budget.QUICK,
            families=["ridge"],
            folds=2,
            include_popularity=True,
        )
    )
    assert "forks" in manifest.feature_names
    assert [result.family for result in manifest.families] == ["ridge"]


def test_rayjob_entrypoint_joins_a_cluster_and_writes_to_s3(
    ray_address: str, s3_bucket: str
) -> None:
    out = f"s3://{s3_bucket}/runs/quick"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "starcast.training",
            "--out",
            out,
            "--budget",
            "quick",
            "--folds",
            "2",
            "--family",
            "ridge",
            "--family",
            "k_neighbors",
        ],
        env={**os.environ, "RAY_ADDRESS": ray_address},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "written to s3://" in completed.stdout
    assert "median baseline" in completed.stdout
    assert "rung 1/" in completed.stderr  # progress as log lines when not on a terminal
    assert f"on the Ray cluster at RAY_ADDRESS={ray_address}" in completed.stderr
    manifest = artifact.read_manifest(out)
    assert {r.family for r in manifest.families} == {"ridge", "k_neighbors"}
    load_artifact(out, expected_sha256=manifest.model_sha256)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--family", "deep_learning"], "unknown model families ['deep_learning']"),
        (["--data", "file:///nonexistent/data.parquet"], "does not exist"),
        (["--folds", "1"], "greater than or equal to 2"),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "starcast", "train", "--out", (tmp_path / "m").as_uri(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert message in completed.stderr
    assert not (tmp_path / "m").exists()
