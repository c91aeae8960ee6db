"""One typed record from the extractor through the repository table to the frontend's lookup.

`RepositoryRecord` (starcast.features) is checked here against the feature schema's
`RECORD_COLUMNS` and against the repository table's columns: same names, same Python types, the same
columns nullable. A feature added to one and not the others fails this test.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime

import pytest
from sqlalchemy import Column

from starcast.extraction.records import StoredRecord
from starcast.extraction.repositories import repositories
from starcast.features import FEATURES, RECORD_COLUMNS, FeatureKind, RepositoryRecord
from tests.unit.extraction.test_records import record

KIND_TYPES = {FeatureKind.NUMERIC: int, FeatureKind.BOOLEAN: bool, FeatureKind.CATEGORICAL: str}


def _split(annotation: object) -> tuple[type, bool]:
    """`int | None` -> (int, True); `str` -> (str, False)."""
    if isinstance(annotation, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        assert len(members) == 1, annotation
        return members[0], True
    assert isinstance(annotation, type), annotation
    return annotation, False


def test_the_record_type_has_exactly_the_record_columns_in_order() -> None:
    assert tuple(typing.get_type_hints(RepositoryRecord)) == RECORD_COLUMNS


def test_every_feature_column_has_the_type_of_its_kind() -> None:
    hints = typing.get_type_hints(RepositoryRecord)
    for feature in FEATURES:
        if feature.name in hints:
            assert _split(hints[feature.name]) == (KIND_TYPES[feature.kind], True), feature.name


@pytest.mark.parametrize("name", [*RECORD_COLUMNS, "unknown_fields"])
def test_the_table_has_one_column_of_the_same_type_per_field(name: str) -> None:
    expected, nullable = _split(typing.get_type_hints(StoredRecord)[name])
    column: Column[object] = repositories.c[name]
    stored = column.type.python_type
    assert stored is expected or (expected is datetime and issubclass(stored, datetime)), name
    assert column.nullable == nullable, name


def test_the_stored_record_is_the_record_and_what_github_failed() -> None:
    assert set(typing.get_type_hints(StoredRecord)) == {*RECORD_COLUMNS, "unknown_fields"}
    extra = {c.name for c in repositories.columns} - set(typing.get_type_hints(StoredRecord))
    assert extra == {"first_seen_at", "run_id", "contributors_status", "contributors_at"}


def test_the_extractor_makes_exactly_a_stored_record() -> None:
    made = record()
    assert set(made) == set(typing.get_type_hints(StoredRecord))
    for name, annotation in typing.get_type_hints(StoredRecord).items():
        expected, nullable = _split(annotation)
        value = made[name]  # type: ignore[literal-required]
        assert (value is None and nullable) or isinstance(value, expected), name
