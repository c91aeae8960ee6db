"""The RayJob stand-in writes at KubeRay's pace: its client's token bucket, on a fake clock."""

from __future__ import annotations

import pytest

from tests.support import rayjob_executor
from tests.support.rayjob_executor import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(rayjob_executor.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(rayjob_executor.time, "sleep", fake.sleep)
    return fake


def test_a_burst_goes_at_once_then_qps_a_second(clock: FakeClock) -> None:
    bucket = TokenBucket(qps=10, burst=3)
    for _ in range(3):
        bucket.wait()
    assert clock.slept == []  # the burst
    for _ in range(5):
        bucket.wait()
    assert clock.slept == pytest.approx([0.1] * 5)  # then one token every 1/qps


def test_tokens_come_back_while_idle_up_to_the_burst(clock: FakeClock) -> None:
    bucket = TokenBucket(qps=10, burst=2)
    bucket.wait()
    bucket.wait()
    clock.now += 60  # a minute idle refills two tokens, not six hundred
    for _ in range(3):
        bucket.wait()
    assert clock.slept == pytest.approx([0.1])
