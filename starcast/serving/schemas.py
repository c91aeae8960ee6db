"""Request and response models of the HTTP API (they are also its OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from starcast.features import FEATURES_BY_NAME
from starcast.github import NAME_PATTERN, OWNER_PATTERN
from starcast.serving.wire import FeatureValue

# GitHub's owner and name rules, as the lookup checks them (it also refuses "." and "..").
FULL_NAME_PATTERN = f"^{OWNER_PATTERN}/{NAME_PATTERN}$"


def _describe(name: str) -> Any:
    return FEATURES_BY_NAME[name].description


def _count(name: str) -> Any:
    # Numbers, not integers: the model reads floats, and public datasets hold averaged counts.
    return Field(default=None, ge=0, allow_inf_nan=False, description=_describe(name))


def _flag(name: str) -> Any:
    return Field(default=None, description=_describe(name))


def _category(name: str) -> Any:
    return Field(default=None, min_length=1, max_length=100, description=_describe(name))


class RepositoryFeatures(BaseModel):
    """Every feature of `starcast.features.FEATURES`; leave out what you don't know."""

    model_config = ConfigDict(extra="forbid")

    forks: float | None = _count("forks")
    watchers: float | None = _count("watchers")
    open_issues: float | None = _count("open_issues")
    closed_issues: float | None = _count("closed_issues")
    open_pull_requests: float | None = _count("open_pull_requests")
    closed_pull_requests: float | None = _count("closed_pull_requests")
    merged_pull_requests: float | None = _count("merged_pull_requests")
    commits_total: float | None = _count("commits_total")
    commits_last_year: float | None = _count("commits_last_year")
    contributors: float | None = _count("contributors")
    branches: float | None = _count("branches")
    tags: float | None = _count("tags")
    releases: float | None = _count("releases")
    labels: float | None = _count("labels")
    mentionable_users: float | None = _count("mentionable_users")
    disk_usage_kb: float | None = _count("disk_usage_kb")
    readme_size_bytes: float | None = _count("readme_size_bytes")
    owner_followers: float | None = _count("owner_followers")
    owner_repositories: float | None = _count("owner_repositories")
    topics: float | None = _count("topics")
    age_days: float | None = _count("age_days")
    days_since_push: float | None = _count("days_since_push")
    owner_is_organization: bool | None = _flag("owner_is_organization")
    has_pages: bool | None = _flag("has_pages")
    has_wiki: bool | None = _flag("has_wiki")
    is_fork: bool | None = _flag("is_fork")
    is_archived: bool | None = _flag("is_archived")
    primary_language: str | None = _category("primary_language")
    license: str | None = _category("license")

    def to_row(self) -> dict[str, FeatureValue]:
        """Known values as the model reads them: numbers (flags as 0/1) and category names."""
        row: dict[str, FeatureValue] = {}
        for name, value in self:
            if value is None:
                continue
            row[name] = value if isinstance(value, str) else float(value)
        return row


class RepositoryInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    model_config = ConfigDict(extra="forbid")

    repositories: list[RepositoryInput] = Field(
        min_length=1, description="the repositories to predict; the server bounds how many"
    )


class Prediction(BaseModel):
    full_name: str | None = Field(description="as given in the request")
    predicted_stars: float = Field(ge=0)
    model_version: str = Field(description="version of the model that made this prediction")


class PredictResponse(BaseModel):
    predictions: list[Prediction] = Field(description="in the order of the request")


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
