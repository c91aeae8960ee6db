"""Which runs the work queue takes (events, the resync), and the memory that keeps a burst cheap."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from starcast.operator import storage_access as sa
from starcast.operator.burst import urgent
from starcast.operator.keys import RunKey
from starcast.operator.rayjob import is_behind
from starcast.operator.reconcile import newest_copy
from starcast.operator.runqueue import (
    asks_for_reconcile,
    owning_run,
    reflects,
    resync_forever,
    slim_rayjob,
)
from starcast.operator.workqueue import WorkQueue


def _run(name: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "ml", "name": name, "generation": 1}, "status": status}


def test_each_pass_queues_every_unfinished_run_the_new_ones_first() -> None:
    runs = [
        _run("running", phase="Running", rayJobName="tr-running", observedGeneration=1),
        _run("done", phase="Succeeded", rayJobName="tr-done", observedGeneration=1),
        _run("made"),  # its RayJob seen, its status not written yet
        _run("new"),
    ]

    async def two_passes() -> list[str]:
        queue: WorkQueue[RunKey] = WorkQueue(quiet_s=0)  # no burst holds the running one
        task = asyncio.create_task(
            resync_forever(lambda: runs, queue, made=lambda key: key.name == "made", interval=0.05)
        )
        taken = []
        for _ in range(6):  # a key is queued once however many passes; taken, it comes again
            key = await asyncio.wait_for(queue.get(), timeout=5)
            taken.append(str(key))
            queue.done(key)
            if len(taken) == 3:
                await asyncio.sleep(0.1)  # the next pass
        task.cancel()
        return taken

    assert asyncio.run(two_passes()) == ["ml/new", "ml/running", "ml/made"] * 2


@pytest.mark.parametrize(
    ("status", "listed", "asks"),
    [
        ({}, False, True),  # just applied
        ({"phase": "Pending", "observedGeneration": 1}, False, True),  # waiting for KubeRay
        ({"phase": "Pending", "rayJobName": "tr-a", "observedGeneration": 1}, False, False),
        ({"phase": "Running", "rayJobName": "tr-a", "observedGeneration": 0}, False, True),
        ({"phase": "Running", "rayJobName": "tr-a", "observedGeneration": 1}, True, True),
        ({"phase": "Succeeded", "rayJobName": "tr-a", "observedGeneration": 1}, True, False),
        ({"phase": "Failed", "observedGeneration": 0}, False, False),
    ],
)
def test_an_event_asks_for_a_reconcile_when_the_status_lags_or_the_operator_starts(
    status: dict[str, Any], listed: bool, asks: bool
) -> None:
    assert asks_for_reconcile(_run("a", **status), listed=listed) is asks


def test_only_a_run_without_a_rayjob_is_urgent() -> None:
    assert urgent(_run("a"), made=False)
    assert urgent(_run("a", phase="Pending"), made=False)
    assert not urgent(_run("a"), made=True)  # its RayJob seen, its status not written yet
    assert not urgent(_run("a", phase="Pending", rayJobName="tr-a"), made=False)
    assert not urgent(_run("a", phase="Failed"), made=False)


def test_a_rayjob_is_kept_slim_and_names_its_controlling_run() -> None:
    rayjob = {
        "metadata": {
            "name": "tr-a",
            "namespace": "ml",
            "uid": "u",
            "creationTimestamp": "2026-12-02T00:00:00Z",
            "managedFields": [{"manager": "x"}],
            "ownerReferences": [
                {"kind": "Other", "name": "x", "controller": True},
                {"kind": "TrainingRun", "name": "a", "uid": "r", "controller": True},
            ],
        },
        "spec": {"entrypoint": "python -m starcast.training"},
        "status": {"jobDeploymentStatus": "Running"},
    }
    slim = slim_rayjob(rayjob)
    assert set(slim) == {"metadata", "status"} and "managedFields" not in slim["metadata"]
    assert owning_run(slim) == "a"
    assert (
        owning_run({"metadata": {"ownerReferences": [{"kind": "TrainingRun", "name": "a"}]}})
        is None
    )
    run = _run("a", rayJobName="tr-a", jobDeploymentStatus="Running")
    assert reflects(run, rayjob)
    assert not reflects(_run("a", rayJobName="tr-a", jobDeploymentStatus="Initializing"), rayjob)


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


def test_lookups_of_one_dataset_at_the_same_moment_share_one_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def slow_exists(uri: str, options: Any) -> bool:
        calls.append(uri)
        time.sleep(0.2)
        return True

    monkeypatch.setattr(sa, "object_exists", slow_exists)
    check = sa.DatasetCheck()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: check.exists("s3://b/d", {}), range(16)))
    assert answers == [True] * 16 and calls == ["s3://b/d"]
