"""The queue's payload: rows travel column-wise and arrive typed exactly as training saw them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from starcast.features import FEATURES, compute_features
from starcast.serving.lookup import rows_from_frame
from starcast.serving.wire import PredictBatch
from tests.support.models import sample_dataset


def batch_of(rows: list[dict[str, float | str | None]]) -> PredictBatch:
    names = sorted({name for row in rows for name in row})
    return PredictBatch(
        rows=len(rows), columns={n: [row.get(n) for row in rows] for n in names}, sent_at=0
    )


def test_frame_from_the_wire_equals_the_training_features_of_the_same_records() -> None:
    records = sample_dataset().records.iloc[:50]
    training = compute_features(records).reset_index(drop=True)
    rows = rows_from_frame(records)
    served = batch_of(list(rows)).to_frame()
    assert list(served.columns) == [feature.name for feature in FEATURES]
    assert served.dtypes.to_dict() == training.dtypes.to_dict()
    pd.testing.assert_frame_equal(served, training, check_dtype=True)


def test_features_nobody_sent_are_unknown() -> None:
    frame = batch_of([{"license": "MIT"}, {}]).to_frame()
    assert frame["license"].iloc[0] == "MIT"
    assert pd.isna(frame["license"].iloc[1])
    assert np.isnan(frame["forks"]).all()
    assert frame["primary_language"].dtype == object


def test_ragged_columns_are_refused() -> None:
    with pytest.raises(ValidationError, match="column 'forks' has 1 values for 2 rows"):
        PredictBatch(rows=2, columns={"forks": [1.0]}, sent_at=0)
