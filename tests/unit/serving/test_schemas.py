"""The API's request model covers every feature, and turns into rows the model reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from starcast.features import FEATURES
from starcast.serving.schemas import RepositoryFeatures, RepositoryInput


def test_request_features_are_exactly_the_feature_schema() -> None:
    assert list(RepositoryFeatures.model_fields) == [feature.name for feature in FEATURES]


def test_row_has_known_values_only_with_flags_as_numbers() -> None:
    features = RepositoryFeatures(forks=3, has_pages=True, is_fork=False, license="MIT")
    assert features.to_row() == {"forks": 3.0, "has_pages": 1.0, "is_fork": 0.0, "license": "MIT"}


def test_infinite_counts_are_refused() -> None:
    with pytest.raises(ValidationError, match="finite"):
        RepositoryFeatures(forks=float("inf"))


def test_a_repository_needs_features_or_a_name() -> None:
    with pytest.raises(ValidationError, match="give `features`, or `full_name`"):
        RepositoryInput()
    assert RepositoryInput(full_name="pallets/flask").features is None
