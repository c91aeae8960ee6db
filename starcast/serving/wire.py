"""What travels over the queue: a batch of feature rows out, star counts (and who made them) back.

Rows travel column-wise (one list per feature), which is both smaller on the wire and what the
worker's DataFrame wants. Features nobody sent are absent and become unknown (NaN) on the worker.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from starcast.features import FEATURES, FeatureKind

PREDICT_TASK: Final = "starcast.predict_batch"

FeatureValue = float | str | None


class PredictBatch(BaseModel):
    """The argument of one `starcast.predict_batch` task."""

    model_config = ConfigDict(frozen=True)

    rows: int = Field(ge=1, description="number of repositories in the batch")
    columns: dict[str, list[FeatureValue]] = Field(
        description="feature name -> one value per row; absent features are unknown"
    )
    sent_at: float = Field(description="unix time the frontend published the batch")

    @model_validator(mode="after")
    def _rectangular(self) -> PredictBatch:
        for name, values in self.columns.items():
            if len(values) != self.rows:
                raise ValueError(f"column {name!r} has {len(values)} values for {self.rows} rows")
        return self

    def to_frame(self) -> pd.DataFrame:
        """The feature frame the model reads, typed exactly as `compute_features` types it."""
        data: dict[str, Any] = {}
        for feature in FEATURES:
            values = self.columns.get(feature.name)
            if feature.kind == FeatureKind.CATEGORICAL:
                # As compute_features makes them for training: object dtype (pandas would infer
                # its string dtype), unknown as NaN (the imputer's missing value, not None).
                data[feature.name] = pd.Series(
                    [np.nan if v is None else v for v in values]
                    if values is not None
                    else [np.nan] * self.rows,
                    dtype=object,
                )
            else:
                data[feature.name] = (
                    np.array(values, dtype=float)
                    if values is not None
                    else np.full(self.rows, np.nan)
                )
        return pd.DataFrame(data)


class BatchResult(BaseModel):
    """What a worker returns for a batch."""

    model_version: str
    model_features: tuple[str, ...] = Field(
        default=(), description="the features the model reads; the others it ignores"
    )
    stars: list[float]
    worker: str = Field(description="Celery node name of the worker that answered")
    queue_wait_s: float = Field(description="from publication to the start of the prediction")
    predict_s: float = Field(description="time the model took for the whole batch")


class TaskReply(BaseModel):
    """A message of Celery's rpc:// backend, as the worker publishes it to our reply queue."""

    model_config = ConfigDict(extra="ignore")

    task_id: str
    status: Literal["PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED"]
    result: Any = None
    traceback: str | None = None

    @property
    def final(self) -> bool:
        return self.status in {"SUCCESS", "FAILURE", "REVOKED"}
