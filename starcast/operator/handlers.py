"""kopf handlers: thin, module-level. Watch events only queue keys; the work queue's workers
reconcile TrainingRuns, ModelReleases and release gates from the newest copies.

One way to drive reconciles, and no kopf timer: kopf puts a finalizer on every object a timer
serves, which blocks `kubectl delete` while the operator is down. `build_registry` puts these
handlers on a registry of their own (no module-level kopf state); what they share is the typed
`OperatorMemo` the runner makes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import kopf

from starcast.operator import constants as c
from starcast.operator import events
from starcast.operator.burst import urgent
from starcast.operator.cluster import ConflictError, TransientError, without_managed_fields
from starcast.operator.keys import GateKey, Key, ReleaseKey, RunKey
from starcast.operator.operator_memo import OperatorMemo
from starcast.operator.release import gate
from starcast.operator.release import handlers as releases
from starcast.operator.release.analysis import PrometheusUnreachableError
from starcast.operator.runqueue import (
    asks_for_reconcile,
    owning_run,
    reflects,
    resync_forever,
    slim_rayjob,
)
from starcast.operator.storage_access import StorageUnreachableError
from starcast.operator.trainingruns import reconcile_run
from starcast.operator.workqueue import Requeue, run_workers

RESYNC_INTERVAL_S: Final = 60.0
RETRIABLE: Final = (
    TransientError,
    ConflictError,
    StorageUnreachableError,
    PrometheusUnreachableError,
    events.PosterNotReadyError,
)
TR: Final = (c.GROUP, c.VERSION, c.TRAINING_RUN_PLURAL)
RAYJOB: Final = (c.RAY_GROUP, c.RAY_VERSION, c.RAYJOB_PLURAL)
MR: Final = (c.GROUP, c.VERSION, c.MODEL_RELEASE_PLURAL)

Bodies = kopf.Index[tuple[str | None, str], dict[str, Any]]


@dataclass(frozen=True)
class Indexes:
    """kopf's indexes the reconciles read: the last seen run bodies and their RayJobs."""

    runs: Bodies
    rayjobs: Bodies

    def run(self, namespace: str, name: str) -> dict[str, Any] | None:
        return next(iter(self.runs.get((namespace, name), ())), None)

    def rayjob(self, namespace: str, name: str) -> dict[str, Any] | None:
        return next(iter(self.rayjobs.get((namespace, name), ())), None)


def configure(settings: kopf.OperatorSettings, memo: OperatorMemo, **_: Any) -> None:
    # kopf's own state, if any, in annotations: the status is starcast's.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=c.KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=c.KOPF_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{c.KOPF_PREFIX}/finalizer"
    settings.peering.lifetime = memo.settings.peering_lifetime_seconds
    settings.execution.max_workers = memo.settings.workers
    events.configure_posting(settings)


# Indexers are async, as they only read the body: kopf runs sync ones on the handler threads.
async def trainingruns_by_phase(body: kopf.Body, **_: Any) -> dict[str, None]:
    return {body.get("status", {}).get("phase") or "Pending": None}


async def trainingruns_by_name(
    namespace: str | None, name: str, body: kopf.Body, **_: Any
) -> dict[tuple[str | None, str], dict[str, Any]]:
    """The last seen body of each run: a RayJob event rarely needs to read its owner."""
    return {(namespace, name): without_managed_fields(body)}


async def rayjobs_by_run(
    namespace: str | None, body: kopf.Body, **_: Any
) -> dict[tuple[str | None, str], dict[str, Any]]:
    """The last seen state of each run's RayJob: a reconcile reads it, not the API."""
    owner = owning_run(body)
    return {} if owner is None else {(namespace, owner): slim_rayjob(body)}


def serve_metrics(memo: OperatorMemo, **kwargs: Any) -> None:
    index: kopf.Index[str, None] = kwargs["trainingruns_by_phase"]  # kopf passes them by name
    memo.metrics.count_phases(lambda: {phase: len(runs) for phase, runs in index.items()})
    memo.metrics.count_queued(lambda: len(memo.queue))
    if memo.settings.metrics_port:
        memo.metrics.serve(memo.settings.metrics_host, memo.settings.metrics_port)


def stop_metrics(memo: OperatorMemo, **_: Any) -> None:
    memo.metrics.stop()


def kuberay_installed(memo: OperatorMemo, **_: Any) -> str:
    """Reported on /healthz; an API outage must not fail liveness (restarts fix nothing)."""
    try:
        return "installed" if memo.runs.cluster.rayjob_api_installed() else "absent"
    except TransientError:
        return "unknown"


async def trainingrun_changed(
    type: str | None,
    namespace: str | None,
    name: str,
    body: kopf.Body,
    memo: OperatorMemo,
    **kwargs: Any,
) -> None:
    """Queue the run if the event asks for it (a new run, a new spec, the operator starting),
    and its release gate once it succeeded with autoRelease."""
    rayjobs: Bodies = kwargs["rayjobs_by_run"]
    assert namespace is not None  # a namespaced kind
    memo.posting.capture()
    if type == "DELETED":
        return
    if asks_for_reconcile(body, listed=type is None):
        made = (namespace, name) in rayjobs
        memo.queue.add(RunKey(namespace, name), urgent=urgent(body, made=made))
    if gate.is_candidate(dict(body.get("status") or {}), dict(body.get("spec") or {})):
        memo.queue.add(GateKey(namespace, name))


async def follow_rayjob(
    type: str | None, namespace: str | None, body: kopf.Body, memo: OperatorMemo, **kwargs: Any
) -> None:
    """Queue the owning run when its RayJob says something its status does not say yet."""
    runs: Bodies = kwargs["trainingruns_by_name"]
    assert namespace is not None
    memo.posting.capture()
    owner = owning_run(body)
    if owner is None:
        return
    if not (body.get("status") or {}).get("jobDeploymentStatus"):
        return  # not picked up by KubeRay yet: nothing the run's status lacks
    known = next(iter(runs.get((namespace, owner), ())), None)
    gone = type == "DELETED"  # its last state is no news: the run lost it
    if not gone and known is not None and reflects(known, body):
        return
    memo.queue.add(RunKey(namespace, owner))


async def modelrelease_changed(
    type: str | None,
    namespace: str | None,
    name: str,
    body: kopf.Body,
    memo: OperatorMemo,
    **_: Any,
) -> None:
    """Queue the release when the event asks for it; an unfinished one requeues itself."""
    assert namespace is not None
    memo.posting.capture()
    if type != "DELETED" and releases.asks_for_reconcile(body, listed=type is None):
        memo.queue.add(ReleaseKey(namespace, name))


async def _reconcile(
    key: Key, memo: OperatorMemo, indexes: Indexes, executor: Any
) -> Requeue | None:
    loop = asyncio.get_running_loop()
    match key:
        case RunKey():
            body = indexes.run(key.namespace, key.name)
            rayjob = indexes.rayjob(key.namespace, key.name)
            return await reconcile_run(key, memo, body, rayjob, executor)
        case ReleaseKey():
            sync = functools.partial(releases.reconcile_release, key, memo)
            return await loop.run_in_executor(executor, memo.posting.run, sync)
        case GateKey():
            body = indexes.run(key.namespace, key.name)
            if body is None:
                return None
            decide = functools.partial(releases.decide_gate, key, memo, body)
            await loop.run_in_executor(executor, memo.posting.run, decide)
            return None


async def start_workers(settings: kopf.OperatorSettings, memo: OperatorMemo, **kwargs: Any) -> None:
    """The work queue's workers, and the resync that queues every unfinished run."""
    indexes = Indexes(runs=kwargs["trainingruns_by_name"], rayjobs=kwargs["rayjobs_by_run"])
    loop = asyncio.get_running_loop()
    reconcile = functools.partial(
        _reconcile, memo=memo, indexes=indexes, executor=settings.execution.executor
    )

    def bodies() -> Iterator[dict[str, Any]]:
        for stored in indexes.runs.values():
            yield from stored

    memo.tasks.append(
        loop.create_task(
            run_workers(memo.queue, reconcile, workers=memo.settings.workers, retriable=RETRIABLE)
        )
    )
    memo.tasks.append(
        loop.create_task(
            resync_forever(
                bodies,
                memo.queue,
                made=lambda key: (key.namespace, key.name) in indexes.rayjobs,
                interval=RESYNC_INTERVAL_S,
            )
        )
    )


async def stop_workers(memo: OperatorMemo, **_: Any) -> None:
    for task in memo.tasks:
        task.cancel()
    memo.releases.http.close()


def build_registry() -> kopf.OperatorRegistry:
    """Every handler of the operator, on a fresh registry."""
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(kopf.login_via_client)
    kopf.on.startup(registry=registry)(configure)
    kopf.index(*TR, id="trainingruns_by_phase", registry=registry)(trainingruns_by_phase)
    kopf.index(*TR, id="trainingruns_by_name", registry=registry)(trainingruns_by_name)
    labelled = {c.LABEL_TRAINING_RUN: kopf.PRESENT}
    kopf.index(*RAYJOB, labels=labelled, id="rayjobs_by_run", registry=registry)(rayjobs_by_run)
    kopf.on.startup(registry=registry)(serve_metrics)
    kopf.on.cleanup(registry=registry)(stop_metrics)
    kopf.on.probe(id="kuberay", registry=registry)(kuberay_installed)
    kopf.on.event(*TR, id="trainingrun", registry=registry)(trainingrun_changed)
    kopf.on.event(*RAYJOB, labels=labelled, id="follow_rayjob", registry=registry)(follow_rayjob)
    kopf.on.event(*MR, id="modelrelease", registry=registry)(modelrelease_changed)
    kopf.on.startup(registry=registry)(start_workers)
    kopf.on.cleanup(registry=registry)(stop_workers)
    return registry
