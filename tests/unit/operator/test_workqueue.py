"""The work queue: a key queued once, never taken twice at once, urgent keys first, retried."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starcast.operator.workqueue import Requeue, WorkQueue, run_workers
from tests.unit.operator.fake_clock import FakeClock

T = TypeVar("T")


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=10))


async def drain(queue: WorkQueue[str]) -> list[str]:
    """Every key queued now, in the order taken (each marked done)."""
    taken = []
    while len(queue):
        key = await queue.get()
        taken.append(key)
        queue.done(key)
    return taken


def test_a_key_added_many_times_is_queued_once() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        for key in ("a", "b", "a", "a", "c", "b"):
            queue.add(key)
        return await drain(queue)

    assert run(scenario) == ["a", "b", "c"]


def test_urgent_keys_go_first_and_a_queued_key_can_be_promoted() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("status-1")
        queue.add("status-2")
        queue.add("new-1", urgent=True)
        queue.add("status-2", urgent=True)  # it now has no RayJob: promoted, not doubled
        queue.add("new-2", urgent=True)
        queue.add("new-1")  # a later plain add does not demote it
        return await drain(queue)

    assert run(scenario) == ["new-1", "status-2", "new-2", "status-1"]


def test_a_key_added_while_taken_is_not_given_to_another_worker_but_comes_again_after() -> None:
    async def scenario() -> tuple[str, list[str]]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        queue.add("b")
        first = await queue.get()
        queue.add(first)  # an event of the key while it is reconciled
        queue.add(first, urgent=True)
        second = await queue.get()
        assert second != first
        queue.done(second)
        assert len(queue) == 0  # `a` waits for its reconcile to end
        queue.done(first)
        return first, await drain(queue)

    assert run(scenario) == ("a", ["a"])


def test_a_key_waiting_to_be_added_waits_once_the_earliest_wait() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add_after("a", 0.3)
        queue.add_after("a", 0.05)  # earlier: replaces the wait
        queue.add_after("a", 0.2)  # later than the one waiting: nothing more
        await asyncio.sleep(0.1)
        taken = await drain(queue)
        await asyncio.sleep(0.4)
        return [*taken, *await drain(queue)]

    assert run(scenario) == ["a"]


def test_a_failing_key_is_retried_with_a_doubling_backoff_until_it_succeeds() -> None:
    attempts: list[float] = []

    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue(base_backoff_s=0.05, max_backoff_s=0.15)
        loop = asyncio.get_running_loop()

        async def reconcile(key: str) -> Requeue | None:
            attempts.append(loop.time())
            if len(attempts) < 5:
                raise (ConnectionError if len(attempts) % 2 else RuntimeError)("API down")
            return None

        queue.add("a")
        workers = asyncio.create_task(
            run_workers(queue, reconcile, workers=2, retriable=(ConnectionError,))
        )
        while len(attempts) < 5:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        workers.cancel()

    run(scenario)
    assert len(attempts) == 5  # an unexpected error is retried too; a success is the end
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    for gap, backoff in zip(gaps, (0.05, 0.1, 0.15, 0.15), strict=True):
        assert gap >= backoff - 0.01, gaps  # a busy loop can only make it later


def test_the_backoff_doubles_per_failure_up_to_its_cap_and_a_success_resets_it() -> None:
    async def scenario() -> list[float]:
        queue: WorkQueue[str] = WorkQueue(base_backoff_s=1, max_backoff_s=5)
        delays = [queue.retry("a") for _ in range(5)]
        queue.forget("a")
        return [*delays, queue.retry("a"), queue.retry("b")]

    assert run(scenario) == [1, 2, 4, 5, 5, 1, 1]


def test_workers_reconcile_keys_side_by_side_never_one_key_twice_at_once() -> None:
    active: set[str] = set()
    overlaps: list[str] = []
    most_at_once = 0
    done: list[str] = []

    async def scenario() -> None:
        nonlocal most_at_once
        queue: WorkQueue[str] = WorkQueue()

        async def reconcile(key: str) -> Requeue | None:
            nonlocal most_at_once
            if key in active:
                overlaps.append(key)
            active.add(key)
            most_at_once = max(most_at_once, len(active))
            if key not in done:
                queue.add(key)  # an event of its own, arriving mid-reconcile
            await asyncio.sleep(0.02)
            active.discard(key)
            done.append(key)
            return Requeue(0.05) if key == "waits" else None

        for key in ("a", "b", "c", "waits"):
            queue.add(key)
        workers = asyncio.create_task(run_workers(queue, reconcile, workers=4, retriable=()))
        await asyncio.sleep(0.3)
        workers.cancel()

    run(scenario)
    assert not overlaps and most_at_once == 4
    # Each ran again once for the event that came while it ran; the requeued one, more.
    assert all(done.count(key) == 2 for key in "abc") and done.count("waits") >= 4, done


async def _take_now(queue: WorkQueue[str]) -> str | None:
    """The key `get` gives now (marked done), or None while it holds what is queued."""
    try:
        key = await asyncio.wait_for(queue.get(), timeout=0.01)
    except TimeoutError:
        return None
    queue.done(key)
    return key


def test_in_a_burst_of_urgent_keys_the_others_wait_until_it_is_quiet() -> None:
    clock = FakeClock()

    async def scenario() -> tuple[list[str], bool, bool]:
        queue: WorkQueue[str] = WorkQueue(quiet_s=0.2, max_hold_s=10, clock=clock)
        queue.add("status-1")
        assert not queue.in_burst()
        queue.add("new-0", urgent=True)
        assert queue.in_burst()  # a new run waits
        taken = [await queue.get()]
        queue.done(taken[0])
        assert not queue.in_burst()  # one new run is no burst
        for i in range(1, 5):  # new runs keep coming, 0.05 s apart
            queue.add(f"new-{i}", urgent=True)
            taken.append(await queue.get())
            queue.done(taken[-1])
            clock.advance(0.05)
        during = queue.in_burst() and await _take_now(queue) is None
        clock.advance(0.15)  # 0.2 s since the last new run: quiet
        taken.append(await queue.get())
        return taken, during, queue.in_burst()

    taken, during, after = run(scenario)
    assert taken == ["new-0", "new-1", "new-2", "new-3", "new-4", "status-1"]
    assert during and not after


def test_a_key_is_held_no_longer_than_max_hold_however_long_the_burst() -> None:
    clock = FakeClock()

    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue(quiet_s=0.2, max_hold_s=0.3, clock=clock)
        queue.add("status-1")
        taken: list[str] = []
        for i in range(12):  # 0.6 s of new runs, 0.05 s apart, taken as they come
            if "status-1" in taken:
                break
            queue.add(f"new-{i}", urgent=True)
            clock.advance(0.05)
            if i == 0:
                continue  # taken from the second on: one new run is no burst
            while len(queue) and (key := await _take_now(queue)) is not None:
                taken.append(key)
        return taken

    taken = run(scenario)
    # Let out while new runs were still coming (once held 0.3 s), before the last of them.
    assert taken[-1] == "status-1" and 3 <= len(taken) - 1 < 12, taken
