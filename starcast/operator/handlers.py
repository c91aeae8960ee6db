"""kopf handlers: thin. They parse what kopf hands them, call the reconcile, map errors to kopf.

`build_registry` registers them on a registry of their own (no module-level kopf state), with
the operator's settings closed over.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
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
from starcast.operator.resync import RunRef, resync_forever
from starcast.operator.settings import OperatorSettings
from starcast.operator.status import TERMINAL_PHASES, phase_event
from starcast.operator.storage_access import StorageUnreachableError

RETRY_DELAY_S: Final = 2.0
MAX_RETRY_DELAY_S: Final = 30.0
RESYNC_INTERVAL_S: Final = 60.0
# How long a RayJob event keeps retrying a failing sync before the resync loop takes over.
EVENT_RETRY_BUDGET_S: Final = 120.0
RETRIABLE: Final = (TransientError, ConflictError, StorageUnreachableError)

logger = logging.getLogger(__name__)


def _ref(namespace: str, name: str, uid: str) -> dict[str, str]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.TRAINING_RUN_KIND,
        "namespace": namespace,
        "name": name,
        "uid": uid,
    }


def _report(outcome: Outcome, ref: dict[str, str], ctx: Context, metrics: OperatorMetrics) -> None:
    """Events and metrics of one sync: one Event per phase change."""
    if outcome.created_rayjob:
        metrics.rayjobs_created.inc()
    if outcome.status is not None:
        event = phase_event(outcome.previous_phase, outcome.status)
        if event is not None:
            events.post(ref, *event)
    metrics.reconciles.labels(TRAINING_RUN, "requeued" if outcome.requeue_after else "ok").inc()


def _sync(
    namespace: str,
    name: str,
    uid: str,
    ctx: Context,
    metrics: OperatorMetrics,
    **seen: dict[str, Any] | None,
) -> Outcome:
    try:
        outcome = sync_training_run(namespace, name, ctx, **seen)
    except Exception as error:
        metrics.reconciles.labels(TRAINING_RUN, "error").inc()
        metrics.errors.labels(TRAINING_RUN, type(error).__name__).inc()
        raise
    _report(outcome, _ref(namespace, name, uid), ctx, metrics)
    return outcome


def _reflects(run: dict[str, Any], rayjob: kopf.Body) -> bool:
    """Whether a TrainingRun's status already carries this RayJob's job states."""
    status, job = run.get("status") or {}, rayjob.get("status") or {}
    return bool(status.get("rayJobName")) and all(
        status.get(key) == (job.get(key) or None) for key in ("jobStatus", "jobDeploymentStatus")
    )


def build_registry(settings: OperatorSettings, metrics: OperatorMetrics) -> kopf.OperatorRegistry:
    """Every handler of the operator, on a fresh registry."""
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(kopf.login_via_client)
    tr = (c.GROUP, c.VERSION, c.TRAINING_RUN_PLURAL)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
        # Handler progress and the diff base in annotations: the status schema is starcast's.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix=c.KOPF_PREFIX
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=c.KOPF_PREFIX, key="last-handled-configuration"
        )
        settings.persistence.finalizer = f"{c.KOPF_PREFIX}/finalizer"
        settings.peering.lifetime = operator_settings.peering_lifetime_seconds
        # Why a create handler ran twice under load: the status it writes makes a version that
        # reaches the watch before kopf's own patch with the diff base, so kopf sees a new object
        # again. kopf skips it while it waits for its patch to come back, up to this timeout,
        # then handles the stale version ("possibly causing double-processing", kopf's docs on
        # consistency). 5 s is less than the watch lags with 1,000 runs; a second run is
        # harmless all the same (sync_training_run is idempotent: tests/integration/operator/
        # test_create_once.py), only wasted work.
        settings.persistence.consistency_timeout = operator_settings.kopf_consistency_seconds
        settings.execution.max_workers = operator_settings.workers
        memo["executor"] = settings.execution.executor
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

    @kopf.on.resume(*tr, id="resume", registry=registry)
    @kopf.on.create(*tr, id="create", registry=registry)
    @kopf.on.update(*tr, field="spec", id="spec-changed", registry=registry)
    def reconcile_training_run(
        namespace: str | None,
        name: str,
        uid: str,
        body: kopf.Body,
        memo: Any,
        retry: int,
        **_: Any,
    ) -> None:
        assert namespace is not None  # a namespaced kind
        try:
            outcome = _sync(namespace, name, uid, memo["ctx"], metrics, body=dict(body))
        except RETRIABLE as error:
            delay = min(RETRY_DELAY_S * 2**retry, MAX_RETRY_DELAY_S)
            raise kopf.TemporaryError(f"{error}; retrying in {delay:.0f}s", delay=delay) from error
        except InvalidObjectError as error:
            raise kopf.PermanentError(str(error)) from error
        if outcome.requeue_after is not None:
            raise kopf.TemporaryError("waiting for KubeRay", delay=outcome.requeue_after)

    @kopf.on.startup(registry=registry)
    async def start_resync(settings: kopf.OperatorSettings, memo: Any, **kwargs: Any) -> None:
        """A safety net: a run whose RayJob events were missed still converges."""
        runs: kopf.Index[tuple[str | None, str], dict[str, Any]] = kwargs["trainingruns_by_name"]

        def unfinished() -> Iterator[RunRef]:
            for bodies in runs.values():
                for body in bodies:
                    meta = body["metadata"]
                    if (body.get("status") or {}).get("phase") not in TERMINAL_PHASES:
                        yield RunRef(meta["namespace"], meta["name"], meta["uid"])

        def sync(run: RunRef) -> None:
            _sync(run.namespace, run.name, run.uid, memo["ctx"], metrics)

        memo["resync"] = asyncio.get_running_loop().create_task(
            resync_forever(
                unfinished,
                sync,
                interval=RESYNC_INTERVAL_S,
                concurrency=max(1, operator_settings.workers // 4),
                executor=settings.execution.executor,
            )
        )

    @kopf.on.cleanup(registry=registry)
    async def stop_resync(memo: Any, **_: Any) -> None:
        task: asyncio.Task[None] | None = memo.get("resync")
        if task is not None:
            task.cancel()

    @kopf.on.event(
        c.RAY_GROUP,
        c.RAY_VERSION,
        c.RAYJOB_PLURAL,
        labels={c.LABEL_TRAINING_RUN: kopf.PRESENT},
        registry=registry,
    )
    async def follow_rayjob(
        namespace: str | None,
        body: kopf.Body,
        memo: Any,
        logger: kopf.Logger,
        **kwargs: Any,
    ) -> None:
        runs: kopf.Index[tuple[str | None, str], dict[str, Any]] = kwargs["trainingruns_by_name"]
        assert namespace is not None
        owner = next(
            (
                ref
                for ref in body.metadata.get("ownerReferences", ())
                if ref.get("kind") == c.TRAINING_RUN_KIND and ref.get("controller")
            ),
            None,
        )
        if owner is None:
            return
        if not (body.get("status") or {}).get("jobDeploymentStatus"):
            return  # not picked up by KubeRay yet: nothing the run's status lacks
        known = next(iter(runs.get((namespace, owner["name"]), ())), None)
        gone = kwargs.get("type") == "DELETED"  # its last state is no news: the run lost it
        if not gone and known is not None and _reflects(known, body):
            return  # the run's status already says what this RayJob says
        rayjob = None if gone else dict(body)
        sync = functools.partial(
            _sync, namespace, owner["name"], owner["uid"], memo["ctx"], metrics,
            body=known, rayjob=rayjob,
        )  # fmt: skip
        # Cheap checks above on the event loop; the blocking sync on the handler threads, and the
        # backoff between tries holds none of them.
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + EVENT_RETRY_BUDGET_S
        delay = RETRY_DELAY_S / 4
        while True:
            try:
                await loop.run_in_executor(memo["executor"], contextvars.copy_context().run, sync)
                return
            except RETRIABLE as error:
                if time.monotonic() + delay > deadline:
                    logger.warning("giving up on %s for now (the resync retries)", error)
                    return
                logger.info("retrying in %.1fs: %s", delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_S)
            except InvalidObjectError as error:
                logger.error("%s", error)
                return

    register_model_release_handlers(registry, settings, metrics)
    return registry
