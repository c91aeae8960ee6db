"""The operator's memo of lookups: finds kept for a while, misses never, one lookup per burst."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from starcast.operator.memo import FoundMemo
from tests.unit.operator.fake_clock import FakeClock


def test_a_find_is_kept_until_it_expires_and_a_miss_is_never_kept() -> None:
    clock = FakeClock()
    memo: FoundMemo[str] = FoundMemo(size=8, seconds=10, clock=clock)
    answers = iter([None, "v1", "v2"])
    calls = []

    def look_up() -> str | None:
        calls.append(1)
        return next(answers)

    assert memo.get("k", look_up) is None
    assert memo.get("k", look_up) == "v1"  # the miss was not kept: looked up again
    assert memo.get("k", look_up) == "v1"  # the find was kept
    assert len(calls) == 2
    clock.advance(9.9)
    assert memo.get("k", look_up) == "v1"  # not expired yet
    clock.advance(0.2)
    assert memo.get("k", look_up) == "v2"
    assert len(calls) == 3


def test_lookups_of_one_key_at_one_moment_share_the_first_answer() -> None:
    memo: FoundMemo[int] = FoundMemo(size=8, seconds=10)
    release = threading.Event()
    calls = []

    def slow_look_up() -> int:
        calls.append(1)
        release.wait(5)
        return 42

    with ThreadPoolExecutor(8) as pool:
        results = [pool.submit(memo.get, "k", slow_look_up) for _ in range(8)]
        time.sleep(0.2)
        release.set()
        assert [result.result() for result in results] == [42] * 8
    assert len(calls) == 1


def test_keys_are_looked_up_apart() -> None:
    memo: FoundMemo[str] = FoundMemo(size=8, seconds=10)
    assert memo.get("a", lambda: "A") == "A"
    assert memo.get("b", lambda: "B") == "B"
    assert memo.get("a", lambda: "other") == "A"
