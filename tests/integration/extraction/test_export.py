"""`starcast extract export` writes what the trainer's `read_dataset` takes whole."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from starcast.cli import app
from starcast.dataset import read_dataset
from starcast.extraction.checkpoint import Checkpoint
from starcast.extraction.spec import RunSpec
from starcast.features import FEATURES, RECORD_COLUMNS
from tests.integration.extraction.conftest import GitHubFactory, extract, settings_for

pytestmark = pytest.mark.integration


def test_export_round_trips_through_read_dataset_with_no_bad_record(
    github: GitHubFactory, checkpoint: Checkpoint, tmp_path: Path
) -> None:
    server = github()
    summary = extract(RunSpec(min_stars=30), settings_for(server), checkpoint)
    out = tmp_path / "dataset.parquet"

    result = CliRunner().invoke(
        app, ["extract", "export", "--db", str(checkpoint.engine.url), "--out", f"file://{out}"]
    )

    assert result.exit_code == 0, result.output
    dataset = read_dataset(f"file://{out}")
    report = dataset.report
    assert report.source_format == "starcast-records"
    assert report.rows_read == report.rows_used == summary.stored
    assert report.bad_records == 0 and report.unknown_by_reason == {}
    assert report.dropped_columns == {} and report.duplicates_removed == 0
    assert list(pd.read_parquet(out).columns) == list(RECORD_COLUMNS)
    # Every feature is there except contributors, which this run didn't ask for.
    assert report.unavailable_features == ["contributors"]
    features = dataset.features
    assert list(features.columns) == [f.name for f in FEATURES]
    repo = server.fixture.by_id[dataset.records["node_id"].iloc[0]]
    row = features.iloc[0]
    assert row["merged_pull_requests"] == repo.merged_pull_requests
    assert row["owner_is_organization"] == repo.owner.is_organization
    assert row["license"] == (repo.license or "none")


def test_export_of_an_empty_database_says_what_to_do(
    checkpoint: Checkpoint, tmp_path: Path
) -> None:
    out = tmp_path / "dataset.parquet"
    result = CliRunner().invoke(
        app, ["extract", "export", "--db", str(checkpoint.engine.url), "--out", f"file://{out}"]
    )
    assert result.exit_code == 2
    assert "run `starcast extract run` first" in result.output
    assert not out.exists()
