"""Reading datasets: the record format the extractor writes, and the public 2022 dataset.

Every record that can't be used is counted and reported with the field and the reason; missing
feature values are kept as NaN (the model imputes them) and counted per feature in the report.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from starcast import storage
from starcast.features import (
    FEATURES,
    NO_LICENSE,
    RECORD_COLUMNS,
    TARGET,
    TIME_COLUMNS,
    FeatureKind,
    compute_features,
)
from starcast.timestamps import GITHUB_LAUNCH, TIMESTAMP_UNITS, TimestampUnit, parse_timestamps

logger = logging.getLogger(__name__)

MAX_EXAMPLES: Final = 20

# A record needs its identity, its target and the two times its age is measured between; every
# other column may be absent (its features are then unknown, and the report lists them).
REQUIRED_RECORD_COLUMNS: Final[tuple[str, ...]] = ("full_name", TARGET, "created_at", "snapshot_at")
# The public dataset in shared/data/github-repos-2022 (GitHub REST API, May 2022): recognised by
# its identity and target columns, then held to its own required columns (`updated_at` is the
# collection day, which becomes snapshot_at).
REPOS_2022_MARKERS: Final[frozenset[str]] = frozenset({"name", "star_count"})
REPOS_2022_COLUMNS: Final[tuple[str, ...]] = ("name", "star_count", "created_at", "updated_at")
# REST license names to the SPDX ids that GraphQL's `licenseInfo.spdxId` reports.
SPDX_BY_LICENSE_NAME: Final[dict[str, str]] = {
    "MIT License": "MIT",
    "Apache License 2.0": "Apache-2.0",
    'BSD 3-Clause "New" or "Revised" License': "BSD-3-Clause",
    'BSD 2-Clause "Simplified" License': "BSD-2-Clause",
    "BSD 4-Clause Original or Old License": "BSD-4-Clause",
    "BSD Zero Clause License": "0BSD",
    "GNU General Public License v3.0": "GPL-3.0",
    "GNU General Public License v2.0": "GPL-2.0",
    "GNU Affero General Public License v3.0": "AGPL-3.0",
    "GNU Lesser General Public License v3.0": "LGPL-3.0",
    "GNU Lesser General Public License v2.1": "LGPL-2.1",
    "Mozilla Public License 2.0": "MPL-2.0",
    "Eclipse Public License 2.0": "EPL-2.0",
    "Eclipse Public License 1.0": "EPL-1.0",
    "The Unlicense": "Unlicense",
    "Creative Commons Zero v1.0 Universal": "CC0-1.0",
    "Creative Commons Attribution 4.0 International": "CC-BY-4.0",
    "Creative Commons Attribution Share Alike 4.0 International": "CC-BY-SA-4.0",
    "Do What The F*ck You Want To Public License": "WTFPL",
    "Boost Software License 1.0": "BSL-1.0",
    "ISC License": "ISC",
    "zlib License": "Zlib",
    "Artistic License 2.0": "Artistic-2.0",
    "Academic Free License v3.0": "AFL-3.0",
    "European Union Public License 1.2": "EUPL-1.2",
    "Microsoft Public License": "MS-PL",
    "SIL Open Font License 1.1": "OFL-1.1",
    "Vim License": "Vim",
    "MIT No Attribution": "MIT-0",
    "PostgreSQL License": "PostgreSQL",
    "University of Illinois/NCSA Open Source License": "NCSA",
    "Other": "NOASSERTION",
    "Not Found": NO_LICENSE,
}


class DatasetError(ValueError):
    """The dataset can't be read or has no usable record."""


class BadRecord(BaseModel):
    row: int = Field(description="0-based row in the source file")
    full_name: str | None
    field: str
    reason: str
    value: str | None = Field(default=None, description="the value as read, when it was refused")
    action: Literal["dropped", "value unknown"] = "dropped"


class DataReport(BaseModel):
    source_format: str
    rows_read: int
    rows_used: int
    duplicates_removed: int = 0
    bad_records: int = 0
    bad_by_reason: dict[str, int] = Field(
        default_factory=dict, description="'field: reason' -> number of records dropped for it"
    )
    bad_examples: list[BadRecord] = Field(default_factory=list)
    unknown_by_reason: dict[str, int] = Field(
        default_factory=dict,
        description="'field: reason' -> records kept with that value set unknown",
    )
    assumed_by_reason: dict[str, int] = Field(
        default_factory=dict,
        description="'field: assumption' -> records kept with a value read by a documented "
        "default (a time without a zone is UTC)",
    )
    timestamp_unit: TimestampUnit | None = Field(
        default=None, description="the unit numeric timestamps were read in, as the caller stated"
    )
    missing_values: dict[str, int] = Field(
        default_factory=dict, description="feature -> records kept with the value unknown"
    )
    unavailable_features: list[str] = Field(
        default_factory=list, description="features the dataset does not have at all"
    )
    dropped_columns: dict[str, str] = Field(
        default_factory=dict, description="source column -> why it is not used"
    )

    def summary(self) -> str:
        parts = [f"{self.rows_used}/{self.rows_read} records used ({self.source_format})"]
        if self.duplicates_removed:
            parts.append(f"{self.duplicates_removed} duplicates removed")
        if self.bad_records:
            reasons = ", ".join(f"{k} x{v}" for k, v in sorted(self.bad_by_reason.items()))
            parts.append(f"{self.bad_records} bad records dropped ({reasons})")
        if self.unknown_by_reason:
            reasons = ", ".join(f"{k} x{v}" for k, v in sorted(self.unknown_by_reason.items()))
            parts.append(f"values set unknown: {reasons}")
        if self.assumed_by_reason:
            reasons = ", ".join(f"{k} x{v}" for k, v in sorted(self.assumed_by_reason.items()))
            parts.append(f"assumed: {reasons}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Dataset:
    records: pd.DataFrame
    report: DataReport
    sha256: str
    uri: str

    @property
    def features(self) -> pd.DataFrame:
        return compute_features(self.records)

    @property
    def stars(self) -> np.ndarray:
        return self.records[TARGET].to_numpy(dtype=float)


def read_dataset(uri: str, *, timestamp_unit: TimestampUnit | None = None) -> Dataset:
    """Read a Parquet or CSV dataset (records, or the public 2022 format) and validate it.

    Timestamps are datetimes or ISO 8601 strings; numbers are read as times only in the unit
    `timestamp_unit` states (epoch seconds: "s"), and refused without one.
    """
    if timestamp_unit is not None and timestamp_unit not in TIMESTAMP_UNITS:
        raise DatasetError(f"timestamp unit {timestamp_unit!r} is not one of {TIMESTAMP_UNITS}")
    try:
        raw_bytes = storage.read_bytes(uri)
    except FileNotFoundError as error:
        raise DatasetError(f"dataset {uri!r} does not exist") from error
    digest = hashlib.sha256(raw_bytes).hexdigest()
    raw = _parse(uri, raw_bytes)
    if set(raw.columns) >= REPOS_2022_MARKERS:
        _require(uri, raw, REPOS_2022_COLUMNS, "the github-repos-2022 format")
        records, bad, dropped = _from_repos_2022(raw)
        source_format = "github-repos-2022"
    else:
        _require(uri, raw, REQUIRED_RECORD_COLUMNS, "a starcast record table")
        unknown = set(raw.columns) - set(RECORD_COLUMNS)
        records, bad = raw.drop(columns=sorted(unknown)), []
        dropped = dict.fromkeys(sorted(unknown), "not a starcast record column")
        source_format = "starcast-records"
    records, bad, assumed = _validate(records, bad, timestamp_unit)
    rows_before_dedup = len(records)
    records = records.drop_duplicates(subset="full_name", keep="first").reset_index(drop=True)
    report = _report(source_format, raw, records, bad, dropped, rows_before_dedup - len(records))
    report.assumed_by_reason = assumed
    report.timestamp_unit = timestamp_unit
    if records.empty:
        raise DatasetError(f"dataset {uri!r} has no usable record: {report.summary()}")
    logger.info("dataset %s: %s", uri, report.summary())
    return Dataset(records=records, report=report, sha256=digest, uri=uri)


def _require(uri: str, raw: pd.DataFrame, required: Sequence[str], what: str) -> None:
    """Every required column, checked before any row is: a missing one fails the whole file."""
    missing = [column for column in required if column not in raw.columns]
    if missing:
        raise DatasetError(
            f"dataset {uri!r} is read as {what}, which needs the columns {list(required)}: "
            f"columns {missing} are missing"
        )


def _parse(uri: str, raw_bytes: bytes) -> pd.DataFrame:
    buffer = io.BytesIO(raw_bytes)
    try:
        if raw_bytes[:4] == b"PAR1":
            return pd.read_parquet(buffer)
        return pd.read_csv(buffer, compression="infer" if not uri.endswith(".gz") else "gzip")
    except (ValueError, pd.errors.ParserError) as error:
        raise DatasetError(f"dataset {uri!r} is not valid Parquet or CSV: {error}") from error


def _from_repos_2022(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[BadRecord], dict[str, str]]:
    """Map the 2022 REST dataset onto records."""
    bad: list[BadRecord] = []
    records = pd.DataFrame(
        {
            "node_id": None,
            "full_name": raw["name"],
            TARGET: raw["star_count"],
            "snapshot_at": raw["updated_at"],  # the collection day, per PROVENANCE.md
            "created_at": raw["created_at"],
            "pushed_at": None,
            "forks": raw.get("forks"),
            "open_issues": raw.get("open_issues"),
            "commits_total": raw.get("commit_count"),
            "contributors": raw.get("contributor_count"),
            "disk_usage_kb": raw.get("size"),
            "topics": raw.get("topics_count"),
            "has_pages": raw.get("github_pages"),
        }
    )
    if "license" in raw:
        license_name = raw["license"]
        records["license"] = license_name.map(SPDX_BY_LICENSE_NAME)
        for row in np.flatnonzero(license_name.notna() & records["license"].isna()):
            reason = f"unknown license {license_name[row]!r}"
            bad.append(_bad(records, int(row), "license", reason, action="value unknown"))
    if "total_issue_count" in raw and "open_issues" in raw:
        closed = pd.to_numeric(raw["total_issue_count"], errors="coerce") - pd.to_numeric(
            raw["open_issues"], errors="coerce"
        )
        # REST's open_issues counts pull requests too, so a few repositories come out negative.
        for row in np.flatnonzero(closed < 0):
            reason = "total_issue_count < open_issues"
            bad.append(_bad(records, int(row), "closed_issues", reason, action="value unknown"))
        records["closed_issues"] = closed.where(closed >= 0)
    dropped = {
        "watchers_count": "equals star_count in the REST API: it is the target, not a feature",
        "allow_forking": "a setting, not a trait of the repository",
        "updated_at": "used as snapshot_at: it is the collection day",
        "url": "identity only",
    }
    dropped = {column: why for column, why in dropped.items() if column in raw}
    return records, bad, dropped


def _validate(
    records: pd.DataFrame, bad: list[BadRecord], timestamp_unit: TimestampUnit | None
) -> tuple[pd.DataFrame, list[BadRecord], dict[str, int]]:
    """Drop the records that can't be used, set untrusted optional values unknown, say why."""
    records = records.reindex(columns=list(RECORD_COLUMNS)).reset_index(drop=True)
    as_read = records.copy()  # for the examples in the report
    stars = pd.to_numeric(records[TARGET], errors="coerce")
    names = records["full_name"].astype("string")
    checks: list[tuple[str, str, pd.Series]] = [
        (
            "full_name",
            "missing or not 'owner/name'",
            ~names.str.fullmatch(r"[^/\s]+/[^/\s]+").fillna(False),
        ),
        (TARGET, "missing or not a number", stars.isna()),
        (TARGET, "negative", stars < 0),
    ]
    unknown: list[tuple[str, str, pd.Series]] = []
    assumed: Counter[str] = Counter()
    unit_hint = f"state its unit ({', '.join(TIMESTAMP_UNITS)}; epoch seconds are 's')"
    for column in TIME_COLUMNS:
        parsed = parse_timestamps(records[column], timestamp_unit)
        required = column in REQUIRED_RECORD_COLUMNS
        failed = checks if required else unknown
        if required:
            checks.append((column, "missing", records[column].isna()))
        failed.append((column, "not a timestamp", parsed.invalid))
        failed.append((column, f"a number, not a timestamp: {unit_hint}", parsed.numbers))
        failed.append(
            (column, f"before {GITHUB_LAUNCH.date()}, when GitHub began", parsed.before_github)
        )
        if count := int(parsed.assumed_utc.sum()):
            assumed[f"{column}: no time zone, read as UTC"] = count
        values = parsed.values
        if not required:  # an optional time that can't be trusted is unknown, not a reason to drop
            values = values.where(~(parsed.invalid | parsed.numbers | parsed.before_github))
        records[column] = values
    checks.append(
        ("created_at", "after snapshot_at", records["created_at"] > records["snapshot_at"])
    )
    for feature in FEATURES:
        if feature.name not in records or feature.kind == FeatureKind.CATEGORICAL:
            continue
        present = records[feature.name].notna()
        values = pd.to_numeric(records[feature.name], errors="coerce")
        checks.append((feature.name, "not a number", present & values.isna()))
        checks.append((feature.name, "negative", values < 0))
        if feature.kind == FeatureKind.BOOLEAN:
            checks.append(
                (feature.name, "not 0/1", present & ~values.isin([0, 1]) & values.notna())
            )
        records[feature.name] = values
    records[TARGET] = stars
    for field, reason, failed_mask in unknown:
        for row in np.flatnonzero(failed_mask.fillna(False).to_numpy(dtype=bool)):
            bad.append(_bad(records, int(row), field, reason, "value unknown", as_read))
    keep = pd.Series(True, index=records.index)
    already = {b.row for b in bad if b.action == "dropped"}
    for field, reason, failed_mask in checks:
        for row in np.flatnonzero(failed_mask.fillna(False).to_numpy(dtype=bool)):
            if row not in already:
                bad.append(_bad(records, int(row), field, reason, "dropped", as_read))
                already.add(int(row))
        keep &= ~failed_mask.fillna(False)
    keep &= ~records.index.isin(already)
    return records[keep].reset_index(drop=True), bad, dict(assumed)


def _bad(
    records: pd.DataFrame,
    row: int,
    field: str,
    reason: str,
    action: Literal["dropped", "value unknown"] = "dropped",
    as_read: pd.DataFrame | None = None,
) -> BadRecord:
    name = records["full_name"].iloc[row]
    value = None
    if as_read is not None and field in as_read and not pd.isna(as_read[field].iloc[row]):
        value = str(as_read[field].iloc[row])
    return BadRecord(
        row=row,
        full_name=name if isinstance(name, str) else None,
        field=field,
        reason=reason,
        value=value,
        action=action,
    )


def _report(
    source_format: str,
    raw: pd.DataFrame,
    records: pd.DataFrame,
    bad: list[BadRecord],
    dropped: dict[str, str],
    duplicates: int,
) -> DataReport:
    features = compute_features(records)
    unavailable = [f.name for f in FEATURES if features[f.name].isna().all()]
    missing = {
        name: int(count)
        for name, count in features.isna().sum().items()
        if count and name not in unavailable
    }
    dropped_rows = [b for b in bad if b.action == "dropped"]
    unknown = [b for b in bad if b.action == "value unknown"]
    return DataReport(
        source_format=source_format,
        rows_read=len(raw),
        rows_used=len(records),
        duplicates_removed=duplicates,
        bad_records=len(dropped_rows),
        bad_by_reason=dict(Counter(f"{b.field}: {b.reason}" for b in dropped_rows)),
        bad_examples=dropped_rows[:MAX_EXAMPLES],
        unknown_by_reason=dict(Counter(f"{b.field}: {b.reason}" for b in unknown)),
        missing_values=missing,
        unavailable_features=unavailable,
        dropped_columns=dropped,
    )
