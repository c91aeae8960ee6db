"""Reading timestamp columns without guessing.

pandas reads a number as a timestamp in nanoseconds since the epoch, so epoch seconds become
1970-01-01T00:00:01 without a word. Here a number is a timestamp only in the unit the caller
states (`unit`); without one it is refused, and counted. An ISO 8601 string without a zone is
read as UTC (GitHub's times are UTC) and counted, so the data report shows it was assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Final, Literal, get_args

if TYPE_CHECKING:  # pandas is imported where it is used: the CLI imports the unit type
    import pandas as pd

TimestampUnit = Literal["s", "ms", "us", "ns"]
TIMESTAMP_UNITS: Final[tuple[str, ...]] = get_args(TimestampUnit)
# No GitHub repository is older than GitHub: an earlier time is a number read in the wrong unit.
GITHUB_LAUNCH: Final = datetime(2007, 10, 1, tzinfo=UTC)

_NUMBER: Final = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
# A zone follows the time of day: "2016-03-01" ends in "-01", which is the day, not an offset.
_ZONE: Final = r"[T ]\S*(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"


@dataclass(frozen=True)
class ParsedTimestamps:
    """A column read as UTC times, and the masks of what could not be read as given."""

    values: pd.Series  # datetime64[ns, UTC]; NaT where missing or not read
    numbers: pd.Series  # bool: a number, and no unit was stated
    invalid: pd.Series  # bool: present, but neither a timestamp nor (with a unit) a number
    assumed_utc: pd.Series  # bool: a time without a zone, read as UTC
    before_github: pd.Series  # bool: earlier than GitHub's launch


def parse_timestamps(column: pd.Series, unit: TimestampUnit | None = None) -> ParsedTimestamps:
    """Read `column` (datetimes, ISO 8601 strings, or numbers in `unit`) as UTC times."""
    import pandas as pd

    index = column.index
    present = column.notna()
    none = pd.Series(False, index=index)
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        values = column.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        return _result(values, none, none, none)
    if pd.api.types.is_datetime64_dtype(column.dtype):
        return _result(
            column.dt.tz_localize("UTC").astype("datetime64[ns, UTC]"), none, none, present
        )
    if pd.api.types.is_bool_dtype(column.dtype):
        return _result(
            pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]"), none, present, none
        )
    if pd.api.types.is_numeric_dtype(column.dtype):
        numbers = pd.to_numeric(column, errors="coerce")
        is_number = present
    else:
        text = column.map(_as_text, na_action="ignore").astype("string")
        is_number = text.str.fullmatch(_NUMBER).fillna(False).astype(bool)
        numbers = pd.to_numeric(text.where(is_number), errors="coerce")
    values = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    if unit is not None and is_number.any():
        read = pd.to_datetime(numbers.where(is_number), unit=unit, utc=True, errors="coerce")
        values = values.where(~is_number, read)
    refused_numbers = is_number & present if unit is None else none
    strings = present & ~is_number
    assumed = none
    if strings.any():
        text = column.where(strings).map(_as_text, na_action="ignore").astype("string")
        read = pd.to_datetime(text.where(strings), utc=True, format="ISO8601", errors="coerce")
        values = values.where(~strings, read)
        has_zone = text.str.strip().str.contains(_ZONE, regex=True).fillna(False).astype(bool)
        assumed = strings & read.notna() & ~has_zone
    invalid = present & values.isna() & ~refused_numbers
    return _result(values, refused_numbers, invalid, assumed)


def _result(
    values: pd.Series, numbers: pd.Series, invalid: pd.Series, assumed: pd.Series
) -> ParsedTimestamps:
    before = (values < GITHUB_LAUNCH).fillna(False).astype(bool)
    return ParsedTimestamps(values, numbers, invalid, assumed & values.notna(), before)


def _as_text(value: object) -> str:
    """Python times as ISO 8601 (an aware one keeps its offset), anything else as written."""
    return value.isoformat() if isinstance(value, datetime | date) else str(value)
