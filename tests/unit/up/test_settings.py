"""`starcast up`'s default worker count survives one crash: never fewer than two workers."""

from __future__ import annotations

import pytest

from starcast.up.settings import UpSettings


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
