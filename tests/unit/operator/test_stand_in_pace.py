"""The RayJob stand-in writes at KubeRay's pace: its client's token bucket, on a fake clock."""

from __future__ import annotations

import pytest

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


def test_a_burst_goes_at_once_then_qps_a_second() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=10, burst=3, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(3):
        bucket.wait()
    assert clock.slept == []  # the burst
    for _ in range(5):
        bucket.wait()
    assert clock.slept == pytest.approx([0.1] * 5)  # then one token every 1/qps


def test_tokens_come_back_while_idle_up_to_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=10, burst=2, clock=clock.monotonic, sleep=clock.sleep)
    bucket.wait()
    bucket.wait()
    clock.now += 60  # a minute idle refills two tokens, not six hundred
    for _ in range(3):
        bucket.wait()
    assert clock.slept == pytest.approx([0.1])
