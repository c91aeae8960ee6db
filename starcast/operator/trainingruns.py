"""A TrainingRun taken from the work queue: synced on a handler thread, its Events and metrics.

A new run's first status write may wait for a burst to end (`burst.defers_status_write`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from starcast.operator import constants as c
from starcast.operator import events
from starcast.operator.burst import defers_status_write
from starcast.operator.keys import RunKey
from starcast.operator.metrics import TRAINING_RUN, OperatorMetrics
from starcast.operator.operator_memo import OperatorMemo
from starcast.operator.reconcile import Context, InvalidObjectError, Outcome, sync_training_run
from starcast.operator.status import phase_event
from starcast.operator.workqueue import Requeue

logger = logging.getLogger(__name__)


def _ref(namespace: str, name: str, uid: str) -> dict[str, str]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.TRAINING_RUN_KIND,
        "namespace": namespace,
        "name": name,
        "uid": uid,
    }


def _report(outcome: Outcome, key: RunKey, metrics: OperatorMetrics) -> None:
    """Events and metrics of one sync: one Event per phase change."""
    if outcome.created_rayjob:
        metrics.rayjobs_created.inc()
    if outcome.status is not None and outcome.uid is not None:
        event = phase_event(outcome.previous_phase, outcome.status)
        if event is not None:
            events.post(_ref(key.namespace, key.name, outcome.uid), *event)
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
    _report(outcome, key, metrics)
    return outcome


async def reconcile_run(
    key: RunKey,
    memo: OperatorMemo,
    body: dict[str, Any] | None,
    rayjob: dict[str, Any] | None,
    executor: Any,
) -> Requeue | None:
    """Sync one run from the newest copies (read on the event loop, where kopf updates them)."""
    made = rayjob is not None
    defer = defers_status_write(body, made=made, in_burst=memo.queue.in_burst())
    sync = functools.partial(
        _sync, key, memo.runs, memo.metrics, body=body, rayjob=rayjob, write_status=not defer
    )
    loop = asyncio.get_running_loop()
    try:
        outcome = await loop.run_in_executor(executor, memo.posting.run, sync)
    except InvalidObjectError as error:
        logger.error("%s", error, extra={"object": str(key)})
        return None  # nothing to retry until the object changes
    if defer:
        return Requeue(0)  # not urgent any more: held while the burst lasts
    if outcome.requeue_after is None:
        return None
    return Requeue(outcome.requeue_after)
