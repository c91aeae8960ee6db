"""The model `up` serves: a later run, which finds its model, still shows the model's scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from starcast import artifact
from starcast.up.model import ensure_model
from tests.support.models import build_model_artifact


def test_a_found_model_is_served_with_the_score_table_train_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = build_model_artifact(tmp_path / "model")
    manifest = ensure_model(model.uri)
    assert manifest == artifact.read_manifest(model.uri)  # found, not trained again
    out = capsys.readouterr().out
    assert f"cross-validated scores ({manifest.cv_folds} folds, log1p(stars))" in out
    assert f"{manifest.winner.family} (winner)" in out
    assert "median baseline" in out
    assert "no model at" not in out
