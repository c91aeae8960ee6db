"""Prediction by owner/name: feature rows from the records a `starcast.github.RepositoryLookup`
returns (`starcast.features.RepositoryRecord`), computed exactly as for training.

`starcast serve frontend` builds the lookup when it has a GitHub token and hands it to
`create_app(..., lookup=...)`, whose lifespan closes it. With no GitHub token there is no lookup,
and requests by name get a 422 that says so and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from starcast.features import RECORD_COLUMNS, RepositoryRecord, compute_features
from starcast.serving.wire import FeatureValue


def rows_from_records(records: Sequence[RepositoryRecord]) -> list[dict[str, FeatureValue]]:
    """Feature rows of records, computed by the same code as the training features."""
    return rows_from_frame(pd.DataFrame.from_records(list(records), columns=list(RECORD_COLUMNS)))


def rows_from_frame(records: pd.DataFrame) -> list[dict[str, FeatureValue]]:
    """Feature rows of a frame of records (a dataset's), unknown values left out."""
    frame = compute_features(records)
    rows: list[dict[str, FeatureValue]] = []
    for record in frame.to_dict(orient="records"):
        row: dict[str, FeatureValue] = {}
        for name, value in record.items():
            if value is None or (isinstance(value, float) and pd.isna(value)):
                continue
            row[str(name)] = value if isinstance(value, str) else float(value)
        rows.append(row)
    return rows
