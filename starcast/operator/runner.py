"""Start the operator: kopf with starcast's registry, namespaces, peering and liveness."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Final

import httpx
import kopf

from starcast.operator.cluster import Cluster, TransientError, api_client
from starcast.operator.handlers import build_registry
from starcast.operator.kopf_compat import APINotFoundError
from starcast.operator.metrics import OperatorMetrics
from starcast.operator.operator_memo import OperatorMemo
from starcast.operator.peering import PeeringUnavailableError, ensure_peering
from starcast.operator.reconcile import Context
from starcast.operator.release.kube import ReleaseCluster
from starcast.operator.release.state import ReleaseContext
from starcast.operator.settings import OperatorSettings

logger = logging.getLogger(__name__)

# kopf freezes every operator that shares the highest priority ("Possibly conflicting operators
# with the same priority": all of them pause), and a Deployment gives its replicas one priority.
# So each process adds a random tiebreak below this band: the configured priority still orders
# releases (a higher one always wins), the tiebreak orders one release's replicas.
PRIORITY_BAND: Final = 2**31
# A pause before kopf starts again (no tight loop on a flapping CRD).
RESTART_DELAY_S: Final = 1.0


async def operate(settings: OperatorSettings, *, stop_flag: asyncio.Event | None = None) -> None:
    """Run until `stop_flag` is set (or a signal, in the main thread).

    KubeRay can come and go under a running operator. kopf rescans a group when one of its CRDs
    changes (`settings.scanning`), but that rescan races the API server's discovery, which
    lags the CRD's events: a CRD installed later can stay unwatched, and one deleted ends kopf
    when its RayJob watch reconnects to a 404 before the rescan drops it (kopf 1.45: a failed
    watcher is fatal, as kopf's `_update_resources` warns). So the operator starts kopf again,
    whose initial scan is right, when a RayJob watch dies of a 404 or when the RayJob API's
    presence differs from what kopf started with; every handler is idempotent.
    """
    priority = peering_priority(settings.priority)
    while True:
        changed = asyncio.Event()
        try:
            await _operate_once(settings, priority, changed, stop_flag)
        except APINotFoundError as error:
            logger.warning("a watched API is gone (%s): starting kopf again", error)
        else:
            if not changed.is_set():
                return  # stopped by a signal or by stop_flag
            logger.warning("KubeRay's RayJob API came or went: starting kopf again")
        if stop_flag is not None and stop_flag.is_set():
            return
        await asyncio.sleep(RESTART_DELAY_S)


def peering_priority(priority: int) -> int:
    """kopf's priority of this process: its release's band, then a random place in it."""
    return priority * PRIORITY_BAND + secrets.randbelow(PRIORITY_BAND)


async def _operate_once(
    settings: OperatorSettings,
    priority: int,
    changed: asyncio.Event,
    stop_flag: asyncio.Event | None,
) -> None:
    api = api_client(1)
    cluster = Cluster(api)
    try:
        served_at_start: bool | None = await asyncio.to_thread(cluster.rayjob_api_installed)
    except TransientError:
        served_at_start = None  # the first answer counts
    if settings.peering is not None:
        await asyncio.to_thread(ensure_peering, api, settings.peering, settings.namespaces)
    stop_kopf = asyncio.Event()
    keeper = asyncio.create_task(
        _watch_kuberay(cluster, served_at_start, settings.kuberay_check_seconds, changed),
        name="KubeRay presence",
    )
    stopper = asyncio.create_task(_either(stop_flag, changed, stop_kopf), name="kopf stopper")
    liveness = (
        f"http://{settings.liveness_host}:{settings.liveness_port}/healthz"
        if settings.liveness_port
        else None
    )
    metrics = OperatorMetrics()
    memo = OperatorMemo(
        settings=settings,
        metrics=metrics,
        runs=Context(
            cluster=Cluster(api_client(settings.workers)), settings=settings, metrics=metrics
        ),
        releases=ReleaseContext(
            cluster=ReleaseCluster(api_client(settings.workers)),
            http=httpx.Client(),
            watched=tuple(settings.namespaces),
        ),
    )
    try:
        await kopf.operator(
            registry=build_registry(),
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            standalone=settings.peering is None,
            peering_name=settings.peering,
            priority=priority,
            liveness_endpoint=liveness,
            stop_flag=stop_kopf,
            memo=memo,
        )
    finally:
        keeper.cancel()
        stopper.cancel()
        api.close()  # type: ignore[no-untyped-call]


async def _watch_kuberay(
    cluster: Cluster, served_at_start: bool | None, interval: float, changed: asyncio.Event
) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            served = await asyncio.to_thread(cluster.rayjob_api_installed)
        except TransientError:
            continue
        if served_at_start is None:
            served_at_start = served
        elif served != served_at_start:
            changed.set()
            return


async def _either(
    stop_flag: asyncio.Event | None, changed: asyncio.Event, out: asyncio.Event
) -> None:
    waits = [asyncio.create_task(changed.wait())]
    if stop_flag is not None:
        waits.append(asyncio.create_task(stop_flag.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    out.set()


# kopf stamps its whole OperatorSettings on every record; repr'd into each structured line it
# cost more CPU than the reconciles. The object's reference (k8s_ref) is what a line needs.
KOPF_RECORD_NOISE: Final = ("settings", "k8s_skip")


def _drop_kopf_noise(record: logging.LogRecord) -> bool:
    for attribute in KOPF_RECORD_NOISE:
        record.__dict__.pop(attribute, None)
    return True


def run_operator(settings: OperatorSettings) -> None:
    for handler in logging.getLogger().handlers:
        handler.addFilter(_drop_kopf_noise)
    logger.info(
        "starting: watching %s, %s",
        ", ".join(settings.namespaces) if settings.namespaces else "every namespace",
        f"peering through {settings.peering}" if settings.peering else "standalone (no peering)",
    )
    try:
        asyncio.run(operate(settings))
    except PeeringUnavailableError as error:
        logger.error("%s", error)
        raise SystemExit(2) from error
