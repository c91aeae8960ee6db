"""Rebuild starcast/sample/repos-2022.parquet from the public github-repos-2022 CSV.

Usage: python hack/make-sample.py PATH/TO/repos.csv
The CSV goes through the same mapping and validation as any dataset; the sample holds the
resulting records, so what ships is exactly what training would have read from the CSV.
"""

from __future__ import annotations

import sys
from pathlib import Path

from starcast.dataset import read_dataset
from starcast.sample import sample_dataset_path


def main(csv_path: str) -> None:
    dataset = read_dataset(Path(csv_path).resolve().as_uri())
    dataset.records.to_parquet(sample_dataset_path(), index=False, compression="zstd")
    sys.stderr.write(f"{sample_dataset_path()}: {dataset.report.summary()}\n")


if __name__ == "__main__":
    main(sys.argv[1])
