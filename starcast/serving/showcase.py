"""The repositories the /predictions page shows: real ones, spread over the range of stars."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from starcast.dataset import read_dataset
from starcast.serving.lookup import rows_from_frame
from starcast.serving.wire import FeatureValue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShowcaseRepository:
    full_name: str
    stars: int
    features: dict[str, FeatureValue]


def load_showcase(dataset_uri: str, count: int) -> list[ShowcaseRepository]:
    """`count` repositories at evenly spaced ranks of stars, most starred first."""
    dataset = read_dataset(dataset_uri)
    records = dataset.records.sort_values("stars", ascending=False, kind="stable")
    picks = np.unique(np.linspace(0, len(records) - 1, num=min(count, len(records))).astype(int))
    chosen = records.iloc[picks]
    rows = rows_from_frame(chosen)
    logger.info("showcase: %d repositories from %s", len(rows), dataset_uri)
    return [
        ShowcaseRepository(full_name=str(name), stars=int(stars), features=row)
        for name, stars, row in zip(chosen["full_name"], chosen["stars"], rows, strict=True)
    ]
