from starcast.features import (
    FEATURES,
    FEATURES_BY_NAME,
    RECORD_COLUMNS,
    FeatureKind,
    compute_features,
    feature_names,
)
from tests.support.records import record, records_frame


def test_popularity_features_are_flagged_and_left_out_on_request() -> None:
    leaky = {f.name for f in FEATURES if f.leaks_popularity}
    assert leaky == {"forks", "watchers"}
    assert leaky.isdisjoint(feature_names(include_leaky=False))
    assert leaky <= set(feature_names(include_leaky=True))


def test_records_hold_every_feature_except_the_derived_ones() -> None:
    assert "stars" in RECORD_COLUMNS
    assert {"age_days", "days_since_push"}.isdisjoint(RECORD_COLUMNS)
    derived = {"age_days", "days_since_push"}
    assert {f.name for f in FEATURES} - derived <= set(RECORD_COLUMNS)


def test_ages_are_days_before_the_snapshot() -> None:
    frame = compute_features(
        records_frame(
            record(
                snapshot_at="2026-01-11T00:00:00Z",
                created_at="2026-01-01T00:00:00Z",
                pushed_at="2026-01-10T12:00:00Z",
            )
        )
    )
    assert frame.loc[0, "age_days"] == 10
    assert frame.loc[0, "days_since_push"] == 0.5


def test_absent_columns_become_unknown_not_zero() -> None:
    frame = compute_features(records_frame(record()))
    assert list(frame.columns) == [f.name for f in FEATURES]
    assert frame["branches"].isna().all()
    assert frame["primary_language"].tolist() == ["Python"]
    unpushed = compute_features(records_frame(record(pushed_at=None)))
    assert unpushed["days_since_push"].isna().all()


def test_kinds_are_numeric_boolean_or_categorical() -> None:
    assert FEATURES_BY_NAME["license"].kind == FeatureKind.CATEGORICAL
    assert FEATURES_BY_NAME["owner_is_organization"].kind == FeatureKind.BOOLEAN
    assert FEATURES_BY_NAME["commits_total"].kind == FeatureKind.NUMERIC
