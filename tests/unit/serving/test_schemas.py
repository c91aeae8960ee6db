"""The API's request model is generated from the feature schema, strictly typed, and turns into
rows the model reads."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from starcast.features import FEATURES, Feature, FeatureKind
from starcast.serving.schemas import (
    PredictRequest,
    RepositoryFeatures,
    RepositoryInput,
    features_model,
)

JSON_TYPE = {
    FeatureKind.BOOLEAN: "boolean",
    FeatureKind.CATEGORICAL: "string",
}


def json_type(feature: Feature) -> str:
    if feature.kind == FeatureKind.NUMERIC:
        return "integer" if feature.whole else "number"
    return JSON_TYPE[feature.kind]


def test_request_features_are_exactly_the_feature_schema_with_its_types() -> None:
    assert list(RepositoryFeatures.model_fields) == [feature.name for feature in FEATURES]
    properties = RepositoryFeatures.model_json_schema()["properties"]
    for feature in FEATURES:
        [typed, null] = properties[feature.name]["anyOf"]
        assert typed["type"] == json_type(feature), feature.name
        assert null == {"type": "null"}
        assert properties[feature.name]["description"] == feature.description


def test_a_feature_added_to_the_schema_is_a_typed_field_of_the_request() -> None:
    stars_of_owner = Feature("owner_stars", FeatureKind.NUMERIC, "stars of the owner's repos")
    extended = features_model([*FEATURES, stars_of_owner])
    assert extended.model_validate({"owner_stars": 4}).to_row() == {"owner_stars": 4.0}
    with pytest.raises(ValidationError, match=r"owner_stars\n  Input should be a valid integer"):
        extended.model_validate({"owner_stars": "4"})
    assert extended.model_fields["owner_stars"].description == "stars of the owner's repos"


def test_row_has_known_values_only_with_flags_as_numbers() -> None:
    features = RepositoryFeatures(forks=3, has_pages=True, is_fork=False, license="MIT")
    assert features.to_row() == {"forks": 3.0, "has_pages": 1.0, "is_fork": 0.0, "license": "MIT"}


@pytest.mark.parametrize(
    ("features", "field", "wanted"),
    [
        ({"contributors": "12"}, "contributors", "valid integer"),
        ({"forks": True}, "forks", "valid integer"),
        ({"forks": 1.5}, "forks", "valid integer"),
        ({"has_pages": "yes"}, "has_pages", "valid boolean"),
        ({"has_pages": 0}, "has_pages", "valid boolean"),
        ({"age_days": "3"}, "age_days", "valid number"),
        ({"license": 3}, "license", "valid string"),
        ({"age_days": float("inf")}, "age_days", "finite"),
        # Above anything GitHub can produce: a GraphQL Int is 32-bit, a repository's age days.
        ({"commits_total": 10**30}, "commits_total", "less than or equal to 2147483647"),
        ({"forks": 2**31}, "forks", "less than or equal to 2147483647"),
        ({"age_days": 1e9}, "age_days", "less than or equal to 36525"),
    ],
)
def test_request_types_are_strict_and_the_error_names_the_field(
    features: dict[str, Any], field: str, wanted: str
) -> None:
    with pytest.raises(ValidationError, match=rf"{field}\n  Input should be (a )?{wanted}"):
        RepositoryFeatures.model_validate(features)


def test_an_integral_float_is_the_count_it_is_as_json_schema_says() -> None:
    features = RepositoryFeatures.model_validate({"forks": 77029.0, "commits_total": 3})
    forks = features.model_dump()["forks"]
    assert forks == 77029
    assert isinstance(forks, int)
    schema = RepositoryFeatures.model_json_schema()
    jsonschema.validate({"forks": 77029.0}, schema)  # what a client's JSON Schema check says


def test_every_number_has_the_bound_github_can_produce_in_the_schema() -> None:
    properties = RepositoryFeatures.model_json_schema()["properties"]
    for feature in FEATURES:
        if feature.kind == FeatureKind.NUMERIC:
            assert properties[feature.name]["anyOf"][0]["maximum"] == feature.maximum


def test_durations_take_fractions_and_counts_take_whole_numbers() -> None:
    features = RepositoryFeatures.model_validate({"age_days": 12.5, "days_since_push": 3})
    assert features.to_row() == {"age_days": 12.5, "days_since_push": 3.0}


def test_a_model_row_becomes_a_request_as_a_client_types_it() -> None:
    row = {"contributors": 12.4, "has_pages": 1.0, "age_days": 3.25, "forks": float("nan")}
    features = RepositoryFeatures.from_row(row)
    assert features.model_dump(exclude_none=True) == {
        "contributors": 12,
        "has_pages": True,
        "age_days": 3.25,
    }


def test_a_repository_needs_features_or_a_name() -> None:
    with pytest.raises(ValidationError, match="give `features`, or `full_name`") as raised:
        RepositoryInput()
    assert "Value error" not in raised.value.errors()[0]["ctx"]["error"].args[0]
    assert RepositoryInput(full_name="pallets/flask").features is None


def test_the_openapi_schema_itself_refuses_a_repository_without_features_or_name() -> None:
    schema = PredictRequest.model_json_schema()
    jsonschema.validate({"repositories": [{"features": {}}]}, schema)
    jsonschema.validate({"repositories": [{"full_name": "pallets/flask"}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"repositories": [{}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"repositories": [{"features": None}]}, schema)
