"""The operator's work queue, after controller-runtime's: keys, not events, are what is queued.

kopf hands the operator every watch event of every run, in order per object; under a burst most
of them are already stale when handled (each status write makes another). So the TrainingRun
and RayJob events only add the run's key here, and workers reconcile from the newest state:

- a key is queued at most once: the events of one run while it waits make one reconcile;
- no key is reconciled by two workers at once; one added while it is reconciled is queued again
  when that reconcile ends (it may have missed the change);
- two priorities: `urgent` keys (runs that have no RayJob yet) go before the others, so the
  RayJob creates of a burst are not queued behind the status writes of the runs before them;
- during a burst (urgent keys coming one after another, less than `quiet_s` apart) the other
  keys are held, each up to `max_hold_s`: their status writes would slow the API server's watch
  of new runs, and the creates wait for it (the policy, its figures and which keys are
  urgent: `starcast/operator/burst.py`);
- a key can wait to be added (a retry's backoff, a requeue); several waits of one key are one;
- a failing key is retried after an exponential backoff of its own, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from starcast.operator.burst import MAX_HOLD_S, QUIET_S

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

BASE_BACKOFF_S: Final = 0.5
MAX_BACKOFF_S: Final = 30.0


class WorkQueue(Generic[K]):
    """A deduplicating two-priority queue of keys; use it from one event loop."""

    def __init__(
        self,
        *,
        base_backoff_s: float = BASE_BACKOFF_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        quiet_s: float = QUIET_S,
        max_hold_s: float = MAX_HOLD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock`: seconds that only go forward (a test's fake one: no sleeps); the waits of
        `add_after` are the event loop's."""
        self._clock = clock
        self._lanes: tuple[deque[K], deque[K]] = (deque(), deque())  # urgent, then the rest
        self._queued: dict[K, bool] = {}  # key -> urgent; a lane may hold stale entries
        self._since: dict[K, float] = {}  # when each key of the second lane was queued
        self._urgent_adds: deque[float] = deque()  # within the last quiet_s
        self._urgent_queued = 0
        self._quiet_s, self._max_hold_s = quiet_s, max_hold_s
        self._active: set[K] = set()
        self._again: dict[K, bool] = {}  # added while active -> urgent
        self._failures: dict[K, int] = {}
        self._waiting: dict[K, asyncio.TimerHandle] = {}  # add_after's, the earliest per key
        self._ready = asyncio.Event()
        self._base_backoff_s, self._max_backoff_s = base_backoff_s, max_backoff_s

    def __len__(self) -> int:
        return len(self._queued)

    def add(self, key: K, *, urgent: bool = False) -> None:
        if key in self._active:
            self._again[key] = self._again.get(key, False) or urgent
            return
        now = self._clock()
        if urgent:
            self._urgent_adds.append(now)
        was = self._queued.get(key)
        if was is None or (urgent and not was):
            self._queued[key] = urgent or bool(was)
            self._urgent_queued += urgent
            self._lanes[0 if urgent else 1].append(key)  # a promoted key's old entry is skipped
            if urgent:
                self._since.pop(key, None)
            else:
                self._since[key] = now
            self._ready.set()

    def _burst_ends_at(self, now: float) -> float:
        """When the burst of urgent keys, if one is on, will have been quiet for quiet_s."""
        while self._urgent_adds and self._urgent_adds[0] < now - self._quiet_s:
            self._urgent_adds.popleft()
        if len(self._urgent_adds) < 2:  # one new run is no burst
            return now
        return self._urgent_adds[-1] + self._quiet_s

    def in_burst(self) -> bool:
        """Whether urgent keys are waiting or came in a burst just now."""
        now = self._clock()
        return self._urgent_queued > 0 or self._burst_ends_at(now) > now

    def add_after(self, key: K, delay: float, *, urgent: bool = False) -> None:
        """Add `key` in `delay` seconds; of several waits for one key, the earliest counts."""
        loop = asyncio.get_running_loop()
        waiting = self._waiting.get(key)
        if waiting is not None:
            if waiting.when() <= loop.time() + delay:
                return
            waiting.cancel()

        def due() -> None:
            del self._waiting[key]
            self.add(key, urgent=urgent)

        self._waiting[key] = loop.call_later(delay, due)

    async def get(self) -> K:
        """The next key, urgent ones first; it is active until `done`."""
        while True:
            lane = self._lanes[0]
            while lane:
                key = lane.popleft()
                if self._queued.get(key) is True:
                    return self._take(key)
            lane = self._lanes[1]
            while lane and self._queued.get(lane[0]) is not False:
                lane.popleft()  # promoted or taken since: its entry is stale
            timeout = None
            if lane:
                now = self._clock()
                release_at = min(self._burst_ends_at(now), self._since[lane[0]] + self._max_hold_s)
                if release_at <= now:
                    return self._take(lane.popleft())
                timeout = release_at - now
            self._ready.clear()
            with contextlib.suppress(TimeoutError):  # a held key's time has come
                await asyncio.wait_for(self._ready.wait(), timeout)

    def _take(self, key: K) -> K:
        self._urgent_queued -= self._queued.pop(key)
        self._since.pop(key, None)
        self._active.add(key)
        return key

    def done(self, key: K) -> None:
        self._active.discard(key)
        if key in self._again:
            self.add(key, urgent=self._again.pop(key))

    def retry(self, key: K) -> float:
        """Queue a failed key again after its backoff (doubling per failure); the delay."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay: float = min(self._base_backoff_s * 2.0**failures, self._max_backoff_s)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """The key succeeded: its next failure starts the backoff over."""
        self._failures.pop(key, None)


@dataclass(frozen=True)
class Requeue:
    """What a reconcile asks of the queue: look again after `after` seconds."""

    after: float


Reconcile = Callable[[K], Awaitable[Requeue | None]]


async def run_workers(
    queue: WorkQueue[K],
    reconcile: Reconcile[K],
    *,
    workers: int,
    retriable: tuple[type[Exception], ...],
) -> None:
    """`workers` loops, each reconciling one key of `queue` at a time. Every failure is retried
    with the key's backoff; the `retriable` ones (expected: the API busy) are logged without a
    traceback. Runs until cancelled."""

    async def work() -> None:
        while True:
            key = await queue.get()
            try:
                requeue = await reconcile(key)
            except Exception as error:  # every failure is retried, none dropped
                delay = queue.retry(key)
                expected = isinstance(error, retriable)
                logger.log(
                    logging.INFO if expected else logging.ERROR,
                    "reconcile failed, retried in %.1fs: %s",
                    delay,
                    error,
                    exc_info=not expected,
                    extra={"object": str(key)},
                )
            else:
                queue.forget(key)
                if requeue is not None:
                    queue.add_after(key, requeue.after)
            finally:
                queue.done(key)

    await asyncio.gather(*(work() for _ in range(workers)))
