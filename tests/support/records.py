"""Factories for starcast records and small fitted models, shared by tests of every component."""

from __future__ import annotations

import pandas as pd


def record(**overrides: object) -> dict[str, object]:
    """One valid starcast record, as the extractor writes it; override any column."""
    base: dict[str, object] = {
        "node_id": "R_kgDOAAAAAQ",
        "full_name": "octo/widget",
        "stars": 1200,
        "snapshot_at": "2026-01-01T00:00:00Z",
        "created_at": "2020-01-01T00:00:00Z",
        "pushed_at": "2025-12-01T00:00:00Z",
        "forks": 80,
        "open_issues": 12,
        "closed_issues": 140,
        "commits_total": 900,
        "contributors": 14,
        "topics": 5,
        "has_pages": 0,
        "primary_language": "Python",
        "license": "MIT",
    }
    base.update(overrides)
    return base


def records_frame(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))
