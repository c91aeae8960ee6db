"""Which features the serving model reads: in every answer, at /api/v1/model, and a warning when
a request gives only features the model ignores."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from starcast import artifact
from starcast.features import FEATURES, FEATURES_BY_NAME, FeatureKind
from tests.support.models import ModelArtifact

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def predict(served: str, *features: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{served}/api/v1/predict",
        json={"repositories": [{"features": f} for f in features]},
        timeout=30,
    )


def test_the_model_endpoint_names_what_the_model_reads_and_its_score(
    served: str, reported_model: ModelArtifact
) -> None:
    manifest = artifact.read_manifest(reported_model.uri)
    model = httpx.get(f"{served}/api/v1/model", timeout=30).json()
    assert model["model_version"] == manifest.model_version
    assert model["features"] == manifest.feature_names
    assert set(model["features"]) | set(model["ignored_features"]) == {f.name for f in FEATURES}
    assert "forks" in model["ignored_features"]  # a popularity feature: left out by default
    assert model["cross_validation"]["rmsle"] == manifest.winner.metrics.rmsle
    assert model["report_url"] == "/model/report.png"
    assert model["source"] == "artifact"


def test_each_answer_says_which_features_the_model_read_and_warns_when_none_was(
    served: str, reported_model: ModelArtifact
) -> None:
    read = artifact.read_manifest(reported_model.uri).feature_names
    count = next(n for n in read if FEATURES_BY_NAME[n].kind == FeatureKind.NUMERIC)
    answer = predict(served, {"forks": 0}, {"forks": 1_000_000}, {count: 3, "forks": 5})
    assert answer.status_code == 200, answer.text
    assert answer.headers["Starcast-Model-Features"] == ",".join(read)
    only_ignored, also_ignored, used = answer.json()["predictions"]
    # forks is not read: 0 and a million give the same prediction, and each answer says so.
    assert only_ignored["predicted_stars"] == also_ignored["predicted_stars"]
    for prediction in (only_ignored, also_ignored):
        assert prediction["ignored_features"] == ["forks"]
        [warning] = prediction["warnings"]
        assert "reads none of the features given (forks)" in warning
        assert count in warning
    assert used["ignored_features"] == ["forks"]
    assert used["warnings"] == []  # one feature it reads: the prediction used it
