"""The artifact loader trusts exactly the types the model families produce, and names others."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.svm import SVR

from starcast import artifact
from starcast.artifact import TRUSTED_TYPES, ArtifactError, load_artifact, model_types
from starcast.training.config import Budget
from starcast.training.families import FAMILIES, candidates
from tests.support.models import build_model_artifact, sample_training_data


def test_the_trusted_types_are_exactly_what_the_families_produce() -> None:
    features, target, names = sample_training_data()
    small = features.index[:300]  # k-neighbours builds a KD tree on few rows, brute force on many
    produced: set[str] = set()
    for family in FAMILIES:
        candidate = candidates(Budget.QUICK, [family.name])[0]
        for rows in (features.index, small):
            model = candidate.build(names, seed=0, fidelity=0.1)
            model.fit(features.loc[rows], target[rows])
            produced |= model_types(artifact.serialize_model(model))
    assert produced == TRUSTED_TYPES


def test_an_artifact_holding_another_type_is_refused_with_its_name(tmp_path: Path) -> None:
    foreign = build_model_artifact(tmp_path / "svr", regressor=SVR())
    with pytest.raises(ArtifactError, match=r"refused: sklearn\.svm\._classes\.SVR$"):
        load_artifact(foreign.uri, foreign.sha256)


def test_a_model_file_that_is_not_skops_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a skops file"):
        artifact._deserialize("file:///m", b"not a zip")
