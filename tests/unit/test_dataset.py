"""Raw records onto the feature schema: the real sample, the public 2022 format, malformed rows."""

import re
from pathlib import Path

import pandas as pd
import pytest

from starcast.dataset import DatasetError, read_dataset
from starcast.sample import sample_dataset_uri
from tests.support.records import record, records_frame

REPOS_2022_HEADER = (
    ",allow_forking,commit_count,contributor_count,created_at,forks,github_pages,license,name,"
    "open_issues,size,star_count,topics_count,total_issue_count,updated_at,url,watchers_count"
)


def _repos_2022_row(index: int, name: str, **fields: object) -> str:
    values: dict[str, object] = {
        "": index,
        "allow_forking": True,
        "commit_count": 1500,
        "contributor_count": 40.0,
        "created_at": "2016-03-01T10:00:00Z",
        "forks": 300,
        "github_pages": False,
        "license": "MIT License",
        "name": name,
        "open_issues": 20,
        "size": 2048,
        "star_count": 2500,
        "topics_count": 3,
        "total_issue_count": 120.0,
        "updated_at": "2022-05-09T10:00:00Z",
        "url": f"https://api.github.com/repos/{name}",
        "watchers_count": 2500,
    }
    values.update(fields)
    return ",".join("" if v is None else str(v) for v in values.values())


def _write_repos_2022(path: Path, rows: list[str]) -> str:
    path.write_text("\n".join([REPOS_2022_HEADER, *rows]) + "\n")
    return path.as_uri()


def test_the_bundled_sample_is_real_and_clean() -> None:
    dataset = read_dataset(sample_dataset_uri())
    assert len(dataset.records) > 6000
    assert dataset.report.bad_records == 0
    assert dataset.records["full_name"].is_unique
    assert dataset.stars.min() >= 900
    assert len(dataset.sha256) == 64
    core = {"open_issues", "commits_total", "contributors", "license", "age_days"}
    assert core.isdisjoint(dataset.report.unavailable_features)


def test_public_2022_format_maps_onto_records(tmp_path: Path) -> None:
    uri = _write_repos_2022(tmp_path / "repos.csv", [_repos_2022_row(0, "octo/widget")])
    dataset = read_dataset(uri)
    row = dataset.records.iloc[0]
    assert row["full_name"] == "octo/widget"
    assert row["stars"] == 2500
    assert row["closed_issues"] == 100  # total_issue_count - open_issues
    assert row["license"] == "MIT"
    assert row["disk_usage_kb"] == 2048
    assert dataset.report.source_format == "github-repos-2022"
    # watchers_count is the star count under another name: it must never become a feature.
    assert "watchers_count" in dataset.report.dropped_columns
    assert dataset.records["watchers"].isna().all()


def test_malformed_2022_rows_are_reported_with_field_and_reason(tmp_path: Path) -> None:
    uri = _write_repos_2022(
        tmp_path / "repos.csv",
        [
            _repos_2022_row(0, "ok/one"),
            _repos_2022_row(1, "no-slash"),
            _repos_2022_row(2, "bad/stars", star_count="lots"),
            _repos_2022_row(3, "neg/forks", forks=-4),
            _repos_2022_row(4, "odd/license", license="Home-made License"),
            _repos_2022_row(5, "ok/one"),
            _repos_2022_row(6, "future/repo", created_at="2023-01-01T00:00:00Z"),
            _repos_2022_row(7, "pr/count", total_issue_count=5.0, open_issues=9),
        ],
    )
    dataset = read_dataset(uri)
    report = dataset.report
    assert report.rows_read == 8
    assert sorted(dataset.records["full_name"]) == ["odd/license", "ok/one", "pr/count"]
    assert report.duplicates_removed == 1
    assert report.bad_by_reason == {
        "full_name: missing or not 'owner/name'": 1,
        "stars: missing or not a number": 1,
        "forks: negative": 1,
        "created_at: after snapshot_at": 1,
    }
    assert report.unknown_by_reason == {
        "license: unknown license 'Home-made License'": 1,
        "closed_issues: total_issue_count < open_issues": 1,
    }
    kept = dataset.records.set_index("full_name")
    assert kept["license"].isna().to_dict() == {
        "ok/one": False,
        "odd/license": True,
        "pr/count": False,
    }
    assert kept["closed_issues"].isna().to_dict() == {
        "ok/one": False,
        "odd/license": False,
        "pr/count": True,
    }
    example = next(b for b in report.bad_examples if b.field == "forks")
    assert (example.row, example.full_name, example.action) == (3, "neg/forks", "dropped")
    assert "4 bad records dropped" in report.summary()


def test_records_format_round_trips_through_parquet(tmp_path: Path) -> None:
    path = tmp_path / "records.parquet"
    records_frame(record(), record(full_name="octo/gadget", stars=5, has_pages=2)).to_parquet(path)
    dataset = read_dataset(path.as_uri())
    assert dataset.report.source_format == "starcast-records"
    assert list(dataset.records["full_name"]) == ["octo/widget"]
    assert dataset.report.bad_by_reason == {"has_pages: not 0/1": 1}


def test_unknown_columns_are_reported_not_used(tmp_path: Path) -> None:
    path = tmp_path / "records.parquet"
    records_frame(record(secret_sauce=1)).to_parquet(path)
    report = read_dataset(path.as_uri()).report
    assert report.dropped_columns == {"secret_sauce": "not a starcast record column"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"full_name,stars\nocto/widget,3\n", "columns ['created_at', 'snapshot_at'] are missing"),
        (b"PAR1 truncated", "is not valid Parquet or CSV"),
    ],
)
def test_unreadable_datasets_say_what_is_wrong(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=re.escape(message)):
        read_dataset(path.as_uri())


def test_a_dataset_with_no_usable_record_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "records.parquet"
    records_frame(record(stars=-1)).to_parquet(path)
    with pytest.raises(DatasetError, match=r"no usable record.*stars: negative x1"):
        read_dataset(path.as_uri())


def test_a_missing_dataset_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        read_dataset((tmp_path / "nope.parquet").as_uri())


def test_a_record_table_without_snapshot_at_fails_up_front(tmp_path: Path) -> None:
    path = tmp_path / "records.parquet"
    frame = records_frame(*(record(full_name=f"octo/r{i}") for i in range(200)))
    frame.drop(columns=["snapshot_at"]).to_parquet(path)
    with pytest.raises(DatasetError, match=re.escape("columns ['snapshot_at'] are missing")):
        read_dataset(path.as_uri())


@pytest.mark.parametrize("column", ["name", "star_count", "created_at", "updated_at"])
def test_a_2022_file_without_a_required_column_fails_up_front(tmp_path: Path, column: str) -> None:
    uri = _write_repos_2022(tmp_path / "repos.csv", [_repos_2022_row(0, "octo/widget")])
    frame = pd.read_csv(tmp_path / "repos.csv").drop(columns=[column])
    frame.to_csv(tmp_path / "repos.csv", index=False)
    expected = f"columns ['{column}'] are missing"
    if column in {"name", "star_count"}:  # no longer recognised as the 2022 format
        expected = "is read as a starcast record table"
    with pytest.raises(DatasetError, match=re.escape(expected)):
        read_dataset(uri)
