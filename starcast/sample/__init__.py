"""The bundled sample: 6,6xx real repositories from the public github-repos-2022 dataset.

Built by `hack/make-sample.py` from shared/data/github-repos-2022 (see PROVENANCE.md here), so
that `make demo` and the tests train on real repositories with no token and no network.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_FILE = "repos-2022.parquet"


def sample_dataset_path() -> Path:
    return Path(str(resources.files(__package__).joinpath(SAMPLE_FILE)))


def sample_dataset_uri() -> str:
    return sample_dataset_path().as_uri()
