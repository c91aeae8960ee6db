"""`starcast up`'s default worker count survives one crash: never fewer than two workers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from starcast.up.settings import RunDirs, UpSettings


@pytest.mark.parametrize(("cores", "workers"), [(1, 2), (2, 2), (3, 2), (4, 3), (8, 7)])
def test_the_default_is_one_worker_per_core_but_one_and_at_least_two(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int
) -> None:
    monkeypatch.delenv("STARCAST_WORKERS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert UpSettings().workers == workers


def test_the_count_asked_for_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARCAST_WORKERS", "1")
    assert UpSettings().workers == 1


def test_each_run_has_its_own_log_and_ready_folders(tmp_path: Path) -> None:
    started = datetime(2026, 12, 7, 15, 4, 5, tzinfo=UTC)
    first = RunDirs.new(tmp_path, started=started, pid=101)
    second = RunDirs.new(tmp_path, started=started, pid=202)  # another `up`, same second
    assert first.logs == tmp_path / "logs" / "20261207T150405Z-101"
    assert first.ready == tmp_path / "run" / "20261207T150405Z-101"
    assert first.logs != second.logs and first.ready != second.ready
