"""Timestamps are never guessed: numbers need a stated unit, zone-less times are shown as UTC."""

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from starcast.cli import app
from starcast.dataset import DatasetError, read_dataset
from starcast.features import compute_features
from starcast.timestamps import parse_timestamps
from tests.support.records import record, records_frame

CREATED = pd.Timestamp("2016-03-01T10:00:00Z")
SNAPSHOT = pd.Timestamp("2022-05-09T00:00:00Z")


def _csv(path: Path, created: list[object], snapshot: object = "2022-05-09T00:00:00Z") -> str:
    frame = records_frame(
        *(
            record(full_name=f"octo/r{i}", node_id=f"R{i}", created_at=c, snapshot_at=snapshot)
            for i, c in enumerate(created)
        )
    )
    frame.to_csv(path, index=False)
    return path.as_uri()


def test_epoch_seconds_are_refused_with_a_count_and_an_example(tmp_path: Path) -> None:
    seconds = int(CREATED.timestamp())
    uri = _csv(tmp_path / "s.csv", ["2016-03-01T10:00:00Z", seconds, seconds + 60])
    dataset = read_dataset(uri)
    report = dataset.report
    assert list(dataset.records["full_name"]) == ["octo/r0"]
    [(reason, count)] = report.bad_by_reason.items()
    assert reason.startswith("created_at: a number, not a timestamp: state its unit")
    assert count == 2
    example = report.bad_examples[0]
    assert (example.full_name, example.field, example.value) == (
        "octo/r1",
        "created_at",
        str(seconds),
    )
    assert "2 bad records dropped" in report.summary()


def test_a_file_of_numbers_only_is_an_error_naming_the_unit(tmp_path: Path) -> None:
    uri = _csv(tmp_path / "s.csv", [int(CREATED.timestamp())] * 3)
    with pytest.raises(DatasetError, match=r"created_at: a number, not a timestamp.*x3"):
        read_dataset(uri)


@pytest.mark.parametrize(
    ("unit", "value"),
    [("s", int(CREATED.timestamp())), ("ms", int(CREATED.timestamp() * 1000))],
)
def test_numbers_are_read_in_the_unit_the_caller_states(
    tmp_path: Path, unit: str, value: int
) -> None:
    uri = _csv(
        tmp_path / "n.csv",
        [value],
        snapshot=int(SNAPSHOT.timestamp() * (1000 if unit == "ms" else 1)),
    )
    dataset = read_dataset(uri, timestamp_unit=unit)  # type: ignore[arg-type]
    assert dataset.report.bad_records == 0
    assert dataset.records["created_at"].iloc[0] == CREATED
    assert dataset.report.timestamp_unit == unit
    age = dataset.features["age_days"].iloc[0]
    assert age == pytest.approx((SNAPSHOT - CREATED).total_seconds() / 86400)


def test_milliseconds_read_as_seconds_are_caught_as_before_github(tmp_path: Path) -> None:
    uri = _csv(
        tmp_path / "n.csv", [int(CREATED.timestamp()), 1_400], snapshot=int(SNAPSHOT.timestamp())
    )
    report = read_dataset(uri, timestamp_unit="s").report
    assert report.bad_by_reason == {"created_at: before 2007-10-01, when GitHub began": 1}


def test_iso_strings_with_a_zone_are_converted_to_utc(tmp_path: Path) -> None:
    uri = _csv(tmp_path / "z.csv", ["2016-03-01T10:00:00Z", "2016-03-01T12:00:00+02:00"])
    dataset = read_dataset(uri)
    assert list(dataset.records["created_at"]) == [CREATED, CREATED]
    assert dataset.report.assumed_by_reason == {}


def test_iso_strings_without_a_zone_are_read_as_utc_and_reported(tmp_path: Path) -> None:
    uri = _csv(
        tmp_path / "n.csv", ["2016-03-01T10:00:00", "2016-03-01 10:00:00", "2016-03-01T10:00:00Z"]
    )
    dataset = read_dataset(uri)
    assert list(dataset.records["created_at"]) == [CREATED] * 3
    assert dataset.report.assumed_by_reason == {"created_at: no time zone, read as UTC": 2}
    assert "assumed: created_at: no time zone, read as UTC x2" in dataset.report.summary()


def test_garbage_is_dropped_as_not_a_timestamp(tmp_path: Path) -> None:
    uri = _csv(tmp_path / "g.csv", ["2016-03-01T10:00:00Z", "last tuesday", "2016-13-45"])
    report = read_dataset(uri).report
    assert report.bad_by_reason == {"created_at: not a timestamp": 2}
    assert [b.value for b in report.bad_examples] == ["last tuesday", "2016-13-45"]


def test_an_optional_time_that_is_a_number_becomes_unknown_not_a_guess(tmp_path: Path) -> None:
    uri = _csv(tmp_path / "p.csv", ["2016-03-01T10:00:00Z", "2016-03-01T10:00:00Z"])
    frame = pd.read_csv(uri.removeprefix("file://"))
    frame.loc[0, "pushed_at"] = "1700000000"
    frame.to_csv(tmp_path / "p.csv", index=False)
    dataset = read_dataset(uri)
    assert len(dataset.records) == 2
    assert pd.isna(dataset.records["pushed_at"].iloc[0])
    assert not pd.isna(dataset.records["pushed_at"].iloc[1])
    assert list(dataset.report.unknown_by_reason) == [
        "pushed_at: a number, not a timestamp: "
        "state its unit (s, ms, us, ns; epoch seconds are 's')"
    ]


def test_datetime_columns_keep_their_zone_and_naive_ones_are_reported() -> None:
    aware = pd.Series(pd.to_datetime(["2016-03-01T11:00:00+01:00"], utc=True))
    naive = pd.Series(pd.to_datetime(["2016-03-01T10:00:00"]))
    assert parse_timestamps(aware).values.iloc[0] == CREATED
    parsed = parse_timestamps(naive)
    assert parsed.values.iloc[0] == CREATED
    assert bool(parsed.assumed_utc.iloc[0])
    assert not parse_timestamps(aware).assumed_utc.any()


def test_features_refuse_numeric_times_instead_of_reading_nanoseconds() -> None:
    records = records_frame(record(created_at=int(CREATED.timestamp())))
    records["snapshot_at"] = pd.to_datetime(records["snapshot_at"], utc=True)
    with pytest.raises(ValueError, match="created_at holds numbers, not times"):
        compute_features(records)


def test_the_train_command_takes_only_known_units(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--out", tmp_path.as_uri(), "--timestamp-unit", "h"])
    assert result.exit_code == 2
    assert "'h' is not one of s, ms, us, ns" in result.output
