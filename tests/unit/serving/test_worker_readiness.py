"""A worker reports ready only for a model that loads, matches its digest and predicts sanely."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.linear_model import Ridge

from starcast import artifact
from starcast.artifact import ArtifactError, load_artifact
from starcast.serving.inference import PipelinePredictor
from starcast.serving.settings import WorkerSettings
from starcast.serving.worker import ReadinessFile, SmokeTestError, load_verified_model, smoke_test
from starcast.training.pipeline import build_pipeline
from tests.support.models import ModelArtifact, manifest_for, sample_training_data


def test_a_verified_model_passes_its_smoke_prediction(model_artifact: ModelArtifact) -> None:
    settings = WorkerSettings(
        broker_url="memory://", model_uri=model_artifact.uri, model_sha256=model_artifact.sha256
    )
    predictor = load_verified_model(settings)
    assert predictor.version == model_artifact.version
    assert predictor.kind == "compiled"


def test_a_digest_other_than_expected_is_refused(model_artifact: ModelArtifact) -> None:
    settings = WorkerSettings(
        broker_url="memory://", model_uri=model_artifact.uri, model_sha256="f" * 64
    )
    with pytest.raises(ArtifactError, match=r"but f{64} was expected"):
        load_verified_model(settings)


@pytest.mark.filterwarnings("ignore:overflow encountered in expm1:RuntimeWarning")
def test_a_model_predicting_nonsense_fails_the_smoke_test(tmp_path: Path) -> None:
    # log1p(stars) of a million: expm1 overflows to an infinite number of stars
    features, target, names = sample_training_data()
    model = build_pipeline(names, Ridge()).fit(features, target + 1e6)
    model_bytes = artifact.serialize_model(model)
    uri = (tmp_path / "inf").as_uri()
    artifact.write_artifact(uri, model_bytes, manifest_for(model_bytes, names, rows=len(target)))
    with pytest.raises(SmokeTestError, match="failed its smoke prediction"):
        smoke_test(PipelinePredictor(load_artifact(uri)))


def test_readiness_file_is_written_whole_and_removed(tmp_path: Path) -> None:
    readiness = ReadinessFile(tmp_path / "run" / "ready")
    readiness.mark_ready({"model_version": "v1", "pid": 1})
    assert readiness.path.read_text() == '{"model_version": "v1", "pid": 1}'
    assert [p.name for p in readiness.path.parent.iterdir()] == ["ready"]
    readiness.clear()
    readiness.clear()
    assert not readiness.path.exists()
