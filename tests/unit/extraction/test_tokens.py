"""The token pool: most points left first, partial leases, waiting for the earliest reset."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from starcast.extraction.tokens import Resource, TokenPool


class ManualClock:
    """Time moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pool(clock: ManualClock, count: int = 2) -> TokenPool:
    return TokenPool([SecretStr(f"ghp_{i}") for i in range(count)], clock, reset_margin=0.5)


def test_leases_come_from_the_token_with_most_points_left() -> None:
    clock = ManualClock()
    tokens = pool(clock)
    first = asyncio.run(tokens.acquire(Resource.GRAPHQL, 17))
    tokens.settle(first, remaining=100, reset_at=2_000.0, limit=5000)
    second = asyncio.run(tokens.acquire(Resource.GRAPHQL, 17))
    assert (first.token.label, second.token.label) == ("token 1", "token 2")


def test_a_lease_shrinks_to_what_is_left_when_allowed() -> None:
    clock = ManualClock()
    tokens = pool(clock, 1)
    lease = asyncio.run(tokens.acquire(Resource.GRAPHQL, 17))
    tokens.settle(lease, remaining=5, reset_at=2_000.0)
    partial = asyncio.run(tokens.acquire(Resource.GRAPHQL, 17, minimum=1))
    assert partial.points == 5
    assert clock.slept == []


def test_all_spent_waits_until_the_earliest_reset() -> None:
    clock = ManualClock()
    tokens = pool(clock)
    for reset in (1_300.0, 1_100.0):
        lease = asyncio.run(tokens.acquire(Resource.GRAPHQL, 1))
        tokens.exhausted(lease, reset)
    lease = asyncio.run(tokens.acquire(Resource.GRAPHQL, 17))
    assert clock.slept == [100.5]
    assert lease.token.label == "token 2"
    assert tokens.waits == 1


def test_a_pause_holds_every_token() -> None:
    clock = ManualClock()
    tokens = pool(clock)
    tokens.pause(30)
    asyncio.run(tokens.acquire(Resource.REST, 1))
    assert clock.slept == [30.0]


def test_a_scaled_clock_runs_faster_from_its_origin_and_sleeps_shorter() -> None:
    import time

    from starcast.extraction.clock import ScaledClock

    origin = time.time()
    clock = ScaledClock(origin, scale=3600.0)  # an hour a second
    started = time.monotonic()
    asyncio.run(clock.sleep(360.0))  # six virtual minutes: a tenth of a real second
    elapsed = time.monotonic() - started
    assert 0.09 <= elapsed < 60  # slept the scaled time, not six real minutes
    assert clock.time() - origin >= 360.0
