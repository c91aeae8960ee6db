"""Which TrainingRuns the work queue takes, and how urgently: what a watch event asks for, the
periodic resync (the safety net for missed events), and the slim RayJob copy the queue reads.

One resync loop for the whole operator rather than a kopf timer per run: kopf puts a finalizer on
every object a timer serves, which would block `kubectl delete` of a run while the operator is
down and cost two writes per run, and nothing needs cleaning up that the RayJob's owner reference
does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starcast.operator import constants as c
from starcast.operator.burst import unfinished, urgent
from starcast.operator.keys import Key, RunKey
from starcast.operator.workqueue import WorkQueue


def asks_for_reconcile(body: Mapping[str, Any], *, listed: bool) -> bool:
    """Whether an event of a run needs a reconcile. `listed`: seen in the watch's first listing
    (the operator starting), where every unfinished run is looked at again.

    Not the events of the operator's own status writes: they carry the generation they
    observed, and the run's RayJob is followed through the RayJob's events.
    """
    if not unfinished(body):
        return False
    status = body.get("status") or {}
    return (
        listed
        or not status.get("rayJobName")
        or status.get("observedGeneration") != body["metadata"].get("generation")
    )


def owning_run(rayjob: Mapping[str, Any]) -> str | None:
    """The name of the TrainingRun controlling a RayJob, if one does."""
    for ref in rayjob["metadata"].get("ownerReferences", ()):
        if ref.get("kind") == c.TRAINING_RUN_KIND and ref.get("controller"):
            return str(ref["name"])
    return None


def slim_rayjob(rayjob: Mapping[str, Any]) -> dict[str, Any]:
    """What a reconcile reads of a RayJob (its owners, creation time, status); not its spec."""
    meta = rayjob["metadata"]
    return {
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "ownerReferences", "creationTimestamp")
            if key in meta
        },
        "status": dict(rayjob.get("status") or {}),
    }


async def resync_forever(
    runs: Callable[[], Iterable[Mapping[str, Any]]],
    queue: WorkQueue[Key] | WorkQueue[RunKey],
    *,
    made: Callable[[RunKey], bool],
    interval: float,
) -> None:
    """Every `interval` seconds, queue every unfinished run of `runs` (bodies); `made`: whether a
    run's RayJob is seen already. Until cancelled."""
    while True:
        await asyncio.sleep(interval)
        for body in list(runs()):
            if unfinished(body):
                meta = body["metadata"]
                key = RunKey(meta["namespace"], meta["name"])
                queue.add(key, urgent=urgent(body, made=made(key)))


def reflects(run: Mapping[str, Any], rayjob: Mapping[str, Any]) -> bool:
    """Whether a TrainingRun's status already carries this RayJob's job states."""
    status, job = run.get("status") or {}, rayjob.get("status") or {}
    return bool(status.get("rayJobName")) and all(
        status.get(key) == (job.get(key) or None) for key in ("jobStatus", "jobDeploymentStatus")
    )
