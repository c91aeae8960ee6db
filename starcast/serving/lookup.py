"""Prediction by owner/name: the seam where a GitHub client plugs into the frontend.

The frontend only needs records (the extractor's format, `starcast.features.RECORD_COLUMNS`) for
a few repositories; features are then computed exactly as for training.
`starcast.extraction.lookup.GitHubRepositoryLookup` implements `RepositoryLookup` on GitHub's
GraphQL API; `starcast serve frontend` builds it when it has a GitHub token and hands it to
`create_app(..., lookup=...)`, whose lifespan closes it. With no GitHub token there is no lookup,
and requests by name get a 501 that says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pandas as pd

from starcast.features import compute_features
from starcast.serving.wire import FeatureValue


class LookupUnavailableError(Exception):
    """Prediction by owner/name is not possible on this server; the message says why."""


class LookupFailedError(Exception):
    """GitHub could not be asked (rate limit, network); the message says why.

    `retry_after_s` is set when GitHub said when it would answer again (a rate limit).
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InvalidRepositoryNameError(ValueError):
    """A name that can't be a GitHub repository's owner/name; the message says what is wrong."""

    def __init__(self, full_name: str, problem: str) -> None:
        super().__init__(f"{full_name!r} is not a GitHub repository name: {problem}")
        self.full_name = full_name


class RepositoryLookup(Protocol):
    async def records(self, full_names: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        """Record of each named repository GitHub knows, keyed by the name as given; unknown
        names are left out.

        Raises InvalidRepositoryNameError for a name that can't be owner/name (before asking
        GitHub anything), LookupFailedError when GitHub can't be asked.
        """
        ...

    async def aclose(self) -> None:
        """Release connections; the frontend's lifespan calls it on shutdown."""
        ...


def rows_from_records(records: Sequence[Mapping[str, Any]]) -> list[dict[str, FeatureValue]]:
    """Feature rows of extractor records, computed by the same code as the training features."""
    frame = compute_features(pd.DataFrame.from_records(list(records)))
    rows: list[dict[str, FeatureValue]] = []
    for record in frame.to_dict(orient="records"):
        row: dict[str, FeatureValue] = {}
        for name, value in record.items():
            if value is None or (isinstance(value, float) and pd.isna(value)):
                continue
            row[str(name)] = value if isinstance(value, str) else float(value)
        rows.append(row)
    return rows
