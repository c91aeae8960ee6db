"""Time for the extractor: the system clock, or a scaled one to replay GitHub's hour in seconds.

Everything that waits (a rate-limit reset, a Retry-After) waits through a `Clock`, so a
simulation can compress GitHub's one-hour budget window without changing any logic.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None: ...


def utc(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.time(), tz=UTC)


class SystemClock:
    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Time that runs `scale` times faster than the wall clock from `origin` (an epoch second).

    Two processes that build it with the same origin and scale agree on the time.
    """

    def __init__(self, origin: float, scale: float) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, not {scale}")
        self.origin = origin
        self.scale = scale

    def time(self) -> float:
        return self.origin + (time.time() - self.origin) * self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)
