"""kopf handlers: thin. They parse what kopf hands them, call the reconcile, map errors to kopf.

`build_registry` registers them on a registry of their own (no module-level kopf state), with
the operator's settings closed over.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterator
from typing import Any, Final

import kopf

from starcast.operator import constants as c
from starcast.operator import events
from starcast.operator.cluster import (
    Cluster,
    ConflictError,
    TransientError,
    api_client,
    without_managed_fields,
)
from starcast.operator.metrics import TRAINING_RUN, OperatorMetrics
from starcast.operator.reconcile import Context, InvalidObjectError, Outcome, sync_training_run
from starcast.operator.release.handlers import register_model_release_handlers
from starcast.operator.runqueue import (
    RunKey,
    asks_for_reconcile,
    owning_run,
    reflects,
    resync_forever,
    slim_rayjob,
    urgent,
)
from starcast.operator.settings import OperatorSettings
from starcast.operator.status import phase_event
from starcast.operator.storage_access import StorageUnreachableError
from starcast.operator.workqueue import Requeue, WorkQueue, run_workers

RESYNC_INTERVAL_S: Final = 60.0
RETRIABLE: Final = (
    TransientError,
    ConflictError,
    StorageUnreachableError,
    events.PosterNotReadyError,
)

logger = logging.getLogger(__name__)


def _ref(namespace: str, name: str, uid: str) -> dict[str, str]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.TRAINING_RUN_KIND,
        "namespace": namespace,
        "name": name,
        "uid": uid,
    }


def _report(outcome: Outcome, namespace: str, name: str, metrics: OperatorMetrics) -> None:
    """Events and metrics of one sync: one Event per phase change."""
    if outcome.created_rayjob:
        metrics.rayjobs_created.inc()
    if outcome.status is not None and outcome.uid is not None:
        event = phase_event(outcome.previous_phase, outcome.status)
        if event is not None:
            events.post(_ref(namespace, name, outcome.uid), *event)
    metrics.reconciles.labels(TRAINING_RUN, "requeued" if outcome.requeue_after else "ok").inc()


def _sync(
    key: RunKey,
    ctx: Context,
    metrics: OperatorMetrics,
    *,
    body: dict[str, Any] | None,
    rayjob: dict[str, Any] | None,
    write_status: bool,
) -> Outcome:
    try:
        outcome = sync_training_run(
            key.namespace, key.name, ctx, body=body, rayjob=rayjob, write_status=write_status
        )
    except Exception as error:
        metrics.reconciles.labels(TRAINING_RUN, "error").inc()
        metrics.errors.labels(TRAINING_RUN, type(error).__name__).inc()
        raise
    _report(outcome, key.namespace, key.name, metrics)
    return outcome


def build_registry(settings: OperatorSettings, metrics: OperatorMetrics) -> kopf.OperatorRegistry:
    """Every handler of the operator, on a fresh registry."""
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(kopf.login_via_client)
    tr = (c.GROUP, c.VERSION, c.TRAINING_RUN_PLURAL)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
        # kopf's own state (the release timers'), if any, in annotations: the status is starcast's.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix=c.KOPF_PREFIX
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=c.KOPF_PREFIX, key="last-handled-configuration"
        )
        settings.persistence.finalizer = f"{c.KOPF_PREFIX}/finalizer"
        settings.peering.lifetime = operator_settings.peering_lifetime_seconds
        settings.execution.max_workers = operator_settings.workers
        events.configure_posting(settings)
        memo["ctx"] = Context(
            cluster=Cluster(api_client(operator_settings.workers)),
            settings=operator_settings,
            metrics=metrics,
        )

    operator_settings = settings

    # Indexers are async, as they only read the body: kopf runs sync ones on the handler threads.
    @kopf.index(*tr, id="trainingruns_by_phase", registry=registry)
    async def trainingruns_by_phase(body: kopf.Body, **_: Any) -> dict[str, None]:
        return {body.get("status", {}).get("phase") or "Pending": None}

    @kopf.index(*tr, id="trainingruns_by_name", registry=registry)
    async def trainingruns_by_name(
        namespace: str | None, name: str, body: kopf.Body, **_: Any
    ) -> dict[tuple[str | None, str], dict[str, Any]]:
        """The last seen body of each run: a RayJob event rarely needs to read its owner."""
        return {(namespace, name): without_managed_fields(body)}

    @kopf.on.startup(registry=registry)
    def serve_metrics(**kwargs: Any) -> None:
        index: kopf.Index[str, None] = kwargs[
            "trainingruns_by_phase"
        ]  # kopf passes indexes by name
        metrics.count_phases(lambda: {phase: len(runs) for phase, runs in index.items()})
        if settings.metrics_port:
            metrics.serve(settings.metrics_host, settings.metrics_port)

    @kopf.on.cleanup(registry=registry)
    def stop_metrics(**_: Any) -> None:
        metrics.stop()

    @kopf.on.probe(id="kuberay", registry=registry)
    def kuberay_installed(memo: Any, **_: Any) -> str:
        """Reported on /healthz; an API outage must not fail liveness (restarts fix nothing)."""
        ctx: Context = memo["ctx"]
        try:
            return "installed" if ctx.cluster.rayjob_api_installed() else "absent"
        except TransientError:
            return "unknown"

    @kopf.index(
        c.RAY_GROUP,
        c.RAY_VERSION,
        c.RAYJOB_PLURAL,
        labels={c.LABEL_TRAINING_RUN: kopf.PRESENT},
        id="rayjobs_by_run",
        registry=registry,
    )
    async def rayjobs_by_run(
        namespace: str | None, body: kopf.Body, **_: Any
    ) -> dict[tuple[str | None, str], dict[str, Any]]:
        """The last seen state of each run's RayJob: a reconcile reads it, not the API."""
        owner = owning_run(body)
        return {} if owner is None else {(namespace, owner): slim_rayjob(body)}

    @kopf.on.event(*tr, id="trainingrun", registry=registry)
    async def trainingrun_changed(
        type: str | None,
        namespace: str | None,
        name: str,
        body: kopf.Body,
        memo: Any,
        **kwargs: Any,
    ) -> None:
        """Queue the run if the event asks for it (a new run, a new spec, the operator starting)."""
        rayjobs: kopf.Index[tuple[str | None, str], dict[str, Any]] = kwargs["rayjobs_by_run"]
        assert namespace is not None  # a namespaced kind
        memo["posting"].capture()
        if type != "DELETED" and asks_for_reconcile(body, listed=type is None):
            made = (namespace, name) in rayjobs
            memo["queue"].add(RunKey(namespace, name), urgent=urgent(body, made=made))

    @kopf.on.event(
        c.RAY_GROUP,
        c.RAY_VERSION,
        c.RAYJOB_PLURAL,
        labels={c.LABEL_TRAINING_RUN: kopf.PRESENT},
        registry=registry,
    )
    async def follow_rayjob(
        type: str | None, namespace: str | None, body: kopf.Body, memo: Any, **kwargs: Any
    ) -> None:
        """Queue the owning run when its RayJob says something its status does not say yet."""
        runs: kopf.Index[tuple[str | None, str], dict[str, Any]] = kwargs["trainingruns_by_name"]
        assert namespace is not None
        memo["posting"].capture()
        owner = owning_run(body)
        if owner is None:
            return
        if not (body.get("status") or {}).get("jobDeploymentStatus"):
            return  # not picked up by KubeRay yet: nothing the run's status lacks
        known = next(iter(runs.get((namespace, owner), ())), None)
        gone = type == "DELETED"  # its last state is no news: the run lost it
        if not gone and known is not None and reflects(known, body):
            return
        memo["queue"].add(RunKey(namespace, owner))

    @kopf.on.startup(registry=registry)
    async def start_workers(settings: kopf.OperatorSettings, memo: Any, **kwargs: Any) -> None:
        """The work queue, its workers, and the resync that queues every unfinished run."""
        runs: kopf.Index[tuple[str | None, str], dict[str, Any]] = kwargs["trainingruns_by_name"]
        rayjobs: kopf.Index[tuple[str | None, str], dict[str, Any]] = kwargs["rayjobs_by_run"]
        queue: WorkQueue[RunKey] = WorkQueue()
        posting = events.PostingContext()
        memo["queue"], memo["posting"] = queue, posting
        metrics.count_queued(lambda: len(queue))
        loop = asyncio.get_running_loop()
        executor = settings.execution.executor

        async def reconcile(key: RunKey) -> Requeue | None:
            # The newest copies, read here on the event loop (kopf updates its indexes here).
            where = (key.namespace, key.name)
            body = next(iter(runs.get(where, ())), None)
            rayjob = next(iter(rayjobs.get(where, ())), None)
            # In a burst of new runs, a new run's first status write waits for the burst to end
            # (the queue holds it): each write of a run slows the API server's watch of runs.
            defer = body is not None and urgent(body, made=rayjob is not None) and queue.in_burst()
            sync = functools.partial(
                _sync, key, memo["ctx"], metrics, body=body, rayjob=rayjob, write_status=not defer
            )
            try:
                outcome = await loop.run_in_executor(executor, posting.run, sync)
            except InvalidObjectError as error:
                logger.error("%s", error, extra={"object": str(key)})
                return None  # nothing to retry until the object changes
            if defer:
                return Requeue(0)  # not urgent any more: held while the burst lasts
            if outcome.requeue_after is None:
                return None
            return Requeue(outcome.requeue_after)

        def bodies() -> Iterator[dict[str, Any]]:
            for stored in runs.values():
                yield from stored

        memo["tasks"] = [
            loop.create_task(
                run_workers(
                    queue, reconcile, workers=operator_settings.workers, retriable=RETRIABLE
                )
            ),
            loop.create_task(
                resync_forever(
                    bodies,
                    queue,
                    made=lambda key: (key.namespace, key.name) in rayjobs,
                    interval=RESYNC_INTERVAL_S,
                )
            ),
        ]

    @kopf.on.cleanup(registry=registry)
    async def stop_workers(memo: Any, **_: Any) -> None:
        for task in memo.get("tasks", ()):
            task.cancel()

    register_model_release_handlers(registry, settings, metrics)
    return registry
