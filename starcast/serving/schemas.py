"""Request and response models of the HTTP API (they are also its OpenAPI schema)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)

from starcast.features import FEATURES, FEATURES_BY_NAME, Feature, FeatureKind
from starcast.github import NAME_PATTERN, OWNER_PATTERN
from starcast.serving.wire import FeatureValue

# GitHub's owner and name rules, as the lookup checks them (it also refuses "." and "..").
FULL_NAME_PATTERN = f"^{OWNER_PATTERN}/{NAME_PATTERN}$"
# Strict: "12" is not a count, `true` not a number, `0` or "yes" not a flag (pydantic's lax mode
# would take them all); the error then names the field and the type it wants.
STRICT: ConfigDict = ConfigDict(extra="forbid", strict=True)


class FeatureValues(BaseModel):
    """Base of the generated `RepositoryFeatures`: one optional field per feature."""

    model_config = STRICT

    def to_row(self) -> dict[str, FeatureValue]:
        """Known values as the model reads them: numbers (flags as 0/1) and category names."""
        row: dict[str, FeatureValue] = {}
        for name, value in self:
            if value is None:
                continue
            row[name] = value if isinstance(value, str) else float(value)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        """A request from a model row (floats, NaN unknown), as a client would type it: counts
        rounded to whole numbers, 0/1 as flags."""
        fields: dict[str, Any] = {}
        for name, value in row.items():
            feature = FEATURES_BY_NAME.get(name)
            if feature is None or value is None or value != value:  # NaN is unknown
                continue
            if feature.kind == FeatureKind.BOOLEAN:
                fields[name] = bool(value)
            elif feature.kind == FeatureKind.NUMERIC:
                fields[name] = round(value) if feature.whole else float(value)
            else:
                fields[name] = str(value)
        return cls.model_validate(fields)


def feature_field(feature: Feature) -> tuple[Any, Any]:
    """The request field of one feature: its type from the feature's kind, its description."""
    if feature.kind == FeatureKind.BOOLEAN:
        return bool | None, Field(default=None, description=feature.description)
    if feature.kind == FeatureKind.CATEGORICAL:
        return str | None, Field(
            default=None, min_length=1, max_length=100, description=feature.description
        )
    if feature.whole:
        # JSON has one number type: 77029.0 is the integer 77029 (JSON Schema's "integer"
        # says so too), 77029.5 is no count and is refused.
        return Annotated[int | None, BeforeValidator(integral_float_as_int)], Field(
            default=None, ge=0, le=feature.maximum, description=feature.description
        )
    return float | None, Field(
        default=None,
        ge=0,
        le=feature.maximum,
        allow_inf_nan=False,
        description=feature.description,
    )


def integral_float_as_int(value: object) -> object:
    """A float with no fraction as the int it is; anything else as given, for the strict check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def features_model(features: Sequence[Feature]) -> type[FeatureValues]:
    """The request model of a feature schema: a feature added to `starcast.features` is a field
    of the API, with its type and description, and nowhere else to edit."""
    fields = {feature.name: feature_field(feature) for feature in features}
    model: type[FeatureValues] = create_model(  # type: ignore[call-overload]
        "RepositoryFeatures",
        __base__=FeatureValues,
        __doc__="Every feature of `starcast.features.FEATURES`; leave out what you don't know.",
        __module__=__name__,
        **fields,
    )
    return model


if TYPE_CHECKING:
    RepositoryFeatures = FeatureValues
else:
    RepositoryFeatures = features_model(FEATURES)


class RepositoryInput(BaseModel):
    model_config = ConfigDict(
        **STRICT,
        # Say in the schema itself what the validator below checks: one of the two is needed.
        json_schema_extra={
            "anyOf": [
                {"required": ["features"], "properties": {"features": {"type": "object"}}},
                {"required": ["full_name"], "properties": {"full_name": {"type": "string"}}},
            ]
        },
    )

    full_name: str | None = Field(
        default=None,
        pattern=FULL_NAME_PATTERN,
        description="owner/name; without `features`, the server fetches them from GitHub "
        "(only when it has a GitHub token)",
        examples=["pallets/flask"],
    )
    features: RepositoryFeatures | None = Field(
        default=None, description="the repository's features; unknown ones may be left out"
    )

    @model_validator(mode="after")
    def _something_to_predict(self) -> RepositoryInput:
        if self.features is None and self.full_name is None:
            raise ValueError("give `features`, or `full_name` (owner/name) to fetch them")
        return self


class PredictRequest(BaseModel):
    model_config = STRICT

    repositories: list[RepositoryInput] = Field(
        min_length=1, description="the repositories to predict; the server bounds how many"
    )


class Prediction(BaseModel):
    full_name: str | None = Field(description="as given in the request")
    predicted_stars: float = Field(ge=0)
    model_version: str = Field(description="version of the model that made this prediction")
    ignored_features: list[str] = Field(
        default_factory=list,
        description="features given that this model does not read: they did not change the "
        "prediction (`/api/v1/model` lists the ones it reads)",
    )
    warnings: list[str] = Field(default_factory=list, description="for a person to read")


class PredictResponse(BaseModel):
    predictions: list[Prediction] = Field(description="in the order of the request")


class CrossValidation(BaseModel):
    family: str = Field(description="model family of the winner")
    folds: int
    rmsle: float = Field(description="RMSE on log1p(stars), lower is better")
    r2_log: float = Field(description="R² on log1p(stars)")
    mdape: float = Field(description="median absolute percentage error on stars")
    baseline_rmsle: float = Field(description="RMSLE of predicting the median, for scale")


class ModelInfo(BaseModel):
    model_version: str
    features: list[str] = Field(description="the features the model reads")
    ignored_features: list[str] = Field(
        description="features the API accepts but this model does not read"
    )
    cross_validation: CrossValidation | None = Field(
        default=None, description="from the artifact's manifest (null: not known here)"
    )
    created_at: datetime | None = None
    report_url: str | None = Field(
        default=None, description="predicted against actual stars on the CV folds (PNG)"
    )
    source: Literal["artifact", "worker"] = Field(
        description="`artifact`: read from the model artifact this frontend was given "
        "(STARCAST_MODEL_URI); `worker`: what a worker reported"
    )


class FieldProblem(BaseModel):
    field: str = Field(description="where in the request, e.g. repositories[0].features.forks")
    problem: str


class ErrorResponse(BaseModel):
    detail: str = Field(description="what went wrong and what to do about it")
    problems: list[FieldProblem] = Field(default_factory=list)


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    ok: bool
    detail: str


class ReadinessResponse(BaseModel):
    ready: bool
    broker: Check
    workers: Check
