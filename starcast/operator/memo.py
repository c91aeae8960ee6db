"""A memo of lookups that remembers what was found for a while, and never that nothing was.

A burst of runs on one Secret or one dataset looks it up once; something created after a miss
is seen at the next lookup, and something changed or removed within the memo's lifetime.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from cachetools import TTLCache, cachedmethod

Value = TypeVar("Value")


class _NotFoundError(Exception):
    """Raised out of the memoized call, so that a miss is not remembered."""


class FoundMemo(Generic[Value]):
    """Finds kept for `seconds`; lookups of one key at one moment share the first one's answer."""

    def __init__(
        self, size: int, seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._found: TTLCache[Any, Value] = TTLCache(size, seconds, timer=clock)
        self._guard = threading.Condition()

    def get(self, key: Hashable, look_up: Callable[[], Value | None]) -> Value | None:
        """`look_up()`'s answer for `key`, or the one remembered; None for a miss (not kept)."""
        try:
            return self._remembered(key, look_up)
        except _NotFoundError:
            return None

    @cachedmethod(
        lambda self: self._found,
        key=lambda self, key, look_up: key,
        lock=lambda self: self._guard,
        condition=lambda self: self._guard,
    )
    def _remembered(self, key: Hashable, look_up: Callable[[], Value | None]) -> Value:
        value = look_up()
        if value is None:
            raise _NotFoundError(key)
        return value
