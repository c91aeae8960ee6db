"""The operator-wide resync loop, and the memory that keeps a burst of runs cheap."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from starcast.operator import storage_access as sa
from starcast.operator.rayjob import is_behind
from starcast.operator.reconcile import newest_copy
from starcast.operator.resync import RunRef, resync_forever


def test_each_pass_syncs_every_unfinished_run_and_a_failure_waits_for_the_next() -> None:
    runs = [RunRef("ml", "a", "1"), RunRef("ml", "b", "2")]
    synced: list[str] = []

    def sync(run: RunRef) -> None:
        synced.append(run.name)
        if run.name == "a" and synced.count("a") == 1:
            raise RuntimeError("API down")

    async def three_passes() -> None:
        task = asyncio.create_task(resync_forever(lambda: runs, sync, interval=0.05, concurrency=1))
        while len(synced) < 6:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(three_passes(), timeout=10))
    assert synced[:6].count("a") == 3 and synced[:6].count("b") == 3


def test_a_dataset_found_is_remembered_and_one_missing_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    present: set[str] = set()
    lookups: list[str] = []

    def exists(uri: str, options: Any) -> bool:
        lookups.append(uri)
        return uri in present

    monkeypatch.setattr(sa, "object_exists", exists)
    check = sa.DatasetCheck(memory_s=0.2)
    options = {"key": "k"}
    assert not check.exists("s3://b/d", options)
    present.add("s3://b/d")
    assert check.exists("s3://b/d", options)  # a missing one was not remembered
    assert check.exists("s3://b/d", options)
    assert lookups == ["s3://b/d", "s3://b/d"]
    assert check.exists("s3://b/d", {"key": "other"})  # another Secret asks for itself
    assert len(lookups) == 3
    time.sleep(0.25)
    present.clear()
    assert not check.exists("s3://b/d", options)  # forgotten after its time


@pytest.mark.parametrize(
    ("seen", "reflected", "behind"),
    [
        ("Initializing", "Running", True),
        ("", "Initializing", True),
        ("Running", "Complete", True),
        ("Running", "Initializing", False),
        ("Complete", "Running", False),
        ("Running", None, False),
        ("Retrying", "Running", False),  # a state a job returns to: nothing inferred
        ("Initializing", "Retrying", False),
    ],
)
def test_a_rayjob_event_older_than_the_status_is_behind(
    seen: str, reflected: str | None, behind: bool
) -> None:
    assert is_behind({"status": {"jobDeploymentStatus": seen}}, reflected) is behind


def _body(uid: str, generation: int, phase: str) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "generation": generation}, "status": {"phase": phase}}


def test_the_operators_own_copy_wins_unless_the_spec_or_the_object_changed() -> None:
    kopf_copy, own = _body("u", 1, "Pending"), _body("u", 1, "Running")
    assert newest_copy(kopf_copy, own) is own
    assert newest_copy(kopf_copy, None) is kopf_copy
    newer_spec = _body("u", 2, "Pending")
    assert newest_copy(newer_spec, own) is newer_spec
    recreated = _body("v", 1, "Pending")
    assert newest_copy(recreated, own) is recreated
