"""The repository features the model reads.

One place names every feature, its type, and whether it leaks popularity (grows with the stars it
is meant to predict). Datasets hold *records* (`RECORD_COLUMNS`: what the extractor stores); the
features are computed from records here, so training and serving can never disagree on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final, TypedDict

if TYPE_CHECKING:  # imported where frames are made: the schema alone (the operator's) needs neither
    import pandas as pd


class FeatureKind(StrEnum):
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"


# Every count GitHub reports is a GraphQL `Int`: a signed 32-bit integer.
GRAPHQL_INT_MAX: Final = 2**31 - 1
# A duration in days on GitHub (founded in 2008) stays far below a century.
MAX_DAYS: Final = 36_525.0


@dataclass(frozen=True)
class Feature:
    name: str
    kind: FeatureKind
    description: str
    leaks_popularity: bool = False
    # Numeric features only: a count is a whole number; a duration may have a fraction.
    whole: bool = True
    # Numeric features only: the largest value GitHub can produce; above it, a value is a typo
    # or garbage, refused rather than extrapolated from.
    maximum: float = GRAPHQL_INT_MAX


def _count(name: str, description: str, *, leaks: bool = False) -> Feature:
    return Feature(
        name, FeatureKind.NUMERIC, description, leaks_popularity=leaks, maximum=GRAPHQL_INT_MAX
    )


def _duration(name: str, description: str) -> Feature:
    return Feature(name, FeatureKind.NUMERIC, description, whole=False, maximum=MAX_DAYS)


FEATURES: Final[tuple[Feature, ...]] = (
    _count("forks", "forks (grows with stars)", leaks=True),
    _count("watchers", "users watching the repository (grows with stars)", leaks=True),
    _count("open_issues", "open issues"),
    _count("closed_issues", "closed issues"),
    _count("open_pull_requests", "open pull requests"),
    _count("closed_pull_requests", "closed, unmerged pull requests"),
    _count("merged_pull_requests", "merged pull requests"),
    _count("commits_total", "commits on the default branch"),
    _count("commits_last_year", "commits on the default branch in the year before the snapshot"),
    _count("contributors", "contributors (REST API; unknown for very large histories)"),
    _count("branches", "branches"),
    _count("tags", "tags"),
    _count("releases", "releases"),
    _count("labels", "issue labels"),
    _count("mentionable_users", "users who can be mentioned (collaborators and participants)"),
    _count("disk_usage_kb", "repository size on disk in KiB"),
    _count("readme_size_bytes", "size of the README in bytes"),
    _count("owner_followers", "followers of the owner (organisations: 0)"),
    _count("owner_repositories", "public repositories of the owner"),
    _count("topics", "topics set on the repository"),
    _duration("age_days", "days from creation to the snapshot"),
    _duration("days_since_push", "days from the last push to the snapshot"),
    Feature("owner_is_organization", FeatureKind.BOOLEAN, "owned by an organisation"),
    Feature("has_pages", FeatureKind.BOOLEAN, "publishes a GitHub Pages site"),
    Feature("has_wiki", FeatureKind.BOOLEAN, "wiki enabled"),
    Feature("is_fork", FeatureKind.BOOLEAN, "is a fork"),
    Feature("is_archived", FeatureKind.BOOLEAN, "archived"),
    Feature("primary_language", FeatureKind.CATEGORICAL, "primary language name"),
    Feature("license", FeatureKind.CATEGORICAL, "SPDX id of the license, 'none' without one"),
)
FEATURES_BY_NAME: Final[dict[str, Feature]] = {feature.name: feature for feature in FEATURES}

TARGET: Final = "stars"
IDENTITY_COLUMNS: Final[tuple[str, ...]] = ("node_id", "full_name")
TIME_COLUMNS: Final[tuple[str, ...]] = ("snapshot_at", "created_at", "pushed_at")
DERIVED_FEATURES: Final[frozenset[str]] = frozenset({"age_days", "days_since_push"})

# A record is what the extractor stores and a dataset holds: identity, target, times, and every
# feature that is not derived from the times.
RECORD_COLUMNS: Final[tuple[str, ...]] = (
    *IDENTITY_COLUMNS,
    TARGET,
    *TIME_COLUMNS,
    *(feature.name for feature in FEATURES if feature.name not in DERIVED_FEATURES),
)

NO_LICENSE: Final = "none"


class RepositoryRecord(TypedDict):
    """One record as it crosses modules: the extractor makes it, the store keeps it (one column
    each, tests/unit/test_record_type.py holds them equal), the frontend's lookup returns it.
    Exactly `RECORD_COLUMNS`; None is unknown, never zero."""

    node_id: str
    full_name: str
    stars: int
    snapshot_at: datetime
    created_at: datetime
    pushed_at: datetime | None
    forks: int | None
    watchers: int | None
    open_issues: int | None
    closed_issues: int | None
    open_pull_requests: int | None
    closed_pull_requests: int | None
    merged_pull_requests: int | None
    commits_total: int | None
    commits_last_year: int | None
    contributors: int | None
    branches: int | None
    tags: int | None
    releases: int | None
    labels: int | None
    mentionable_users: int | None
    disk_usage_kb: int | None
    readme_size_bytes: int | None
    owner_followers: int | None
    owner_repositories: int | None
    topics: int | None
    owner_is_organization: bool | None
    has_pages: bool | None
    has_wiki: bool | None
    is_fork: bool | None
    is_archived: bool | None
    primary_language: str | None
    license: str | None


def feature_names(*, include_leaky: bool) -> list[str]:
    return [f.name for f in FEATURES if include_leaky or not f.leaks_popularity]


def compute_features(records: pd.DataFrame) -> pd.DataFrame:
    """Feature frame (one column per feature in `FEATURES`, NaN where unknown) from records."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(index=records.index)
    snapshot = _utc(records, "snapshot_at")
    for feature in FEATURES:
        if feature.name == "age_days":
            frame[feature.name] = (
                snapshot - _utc(records, "created_at")
            ).dt.total_seconds() / 86400
        elif feature.name == "days_since_push":
            frame[feature.name] = (snapshot - _utc(records, "pushed_at")).dt.total_seconds() / 86400
        elif feature.name not in records:
            frame[feature.name] = np.nan if feature.kind != FeatureKind.CATEGORICAL else None
        elif feature.kind == FeatureKind.CATEGORICAL:
            frame[feature.name] = records[feature.name].astype("object")
        else:
            frame[feature.name] = pd.to_numeric(records[feature.name], errors="coerce").astype(
                float
            )
    return frame


def _utc(records: pd.DataFrame, column: str) -> pd.Series:
    import pandas as pd

    if column not in records:
        return pd.Series(pd.NaT, index=records.index, dtype="datetime64[ns, UTC]")
    values = records[column]
    if pd.api.types.is_numeric_dtype(values.dtype) and values.notna().any():
        # pandas would read it as nanoseconds since 1970; starcast.timestamps reads numbers
        # only in a unit the caller states.
        raise ValueError(f"{column} holds numbers, not times: read it with starcast.timestamps")
    return pd.to_datetime(values, utc=True, errors="coerce")
