"""ModelReleases and release gates taken from the operator's work queue (no kopf timer).

The reconcile is level-triggered and keeps its state in the status, so an unfinished release
asks the queue to look again a second later (the Deployment's progress, the user's
promote/abort annotations, the canary's pause and analysis) and stops asking when it ends. The
queue never reconciles one release on two workers at once and retries a failure with backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from starcast.operator import constants as c
from starcast.operator import events
from starcast.operator.keys import GateKey, ReleaseKey
from starcast.operator.release import gate
from starcast.operator.release.reconcile import sync_model_release
from starcast.operator.release.state import TERMINAL_PHASES, ReleaseEvent
from starcast.operator.workqueue import Requeue

if TYPE_CHECKING:
    from starcast.operator.operator_memo import OperatorMemo

logger = logging.getLogger(__name__)

MODEL_RELEASE: Final = "ModelRelease"
SYNC_INTERVAL_S: Final = 1.0
ACTIONS: Final = (c.ANNOTATION_PROMOTE, c.ANNOTATION_ABORT)


def asks_for_reconcile(body: Mapping[str, Any], *, listed: bool) -> bool:
    """Whether an event of a release needs a reconcile now: listed at start, a new spec, or a
    user's action annotation; not the events of the operator's own status writes (an
    unfinished release is looked at every second anyway)."""
    status = body.get("status") or {}
    if status.get("phase") in TERMINAL_PHASES:
        return False
    meta = body["metadata"]
    annotations = meta.get("annotations") or {}
    return (
        listed
        or status.get("observedGeneration") != meta.get("generation")
        or any(key in annotations for key in ACTIONS)
    )


def _involved(kind: str, namespace: str, name: str, uid: str) -> dict[str, str]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "uid": uid,
    }


def _post(involved: dict[str, str], released: list[ReleaseEvent]) -> None:
    for event in released:
        events.post(involved, event.type, event.reason, event.message)


def reconcile_release(key: ReleaseKey, memo: OperatorMemo) -> Requeue | None:
    """One sync of a release (on a handler thread); again in a second while it is unfinished."""
    metrics = memo.metrics
    started = time.monotonic()
    try:
        result = sync_model_release(key.namespace, key.name, memo.releases)
    except Exception as error:
        metrics.errors.labels(MODEL_RELEASE, type(error).__name__).inc()
        metrics.reconciles.labels(MODEL_RELEASE, "error").inc()
        raise
    finally:
        metrics.observe_reconcile(time.monotonic() - started, MODEL_RELEASE)
    metrics.reconciles.labels(MODEL_RELEASE, "ok").inc()
    if result.uid is not None:
        involved = _involved(c.MODEL_RELEASE_KIND, key.namespace, key.name, result.uid)
        _post(involved, result.events)
    if result.phase is None or result.phase in TERMINAL_PHASES:
        return None
    return Requeue(SYNC_INTERVAL_S)


def decide_gate(key: GateKey, memo: OperatorMemo, seen: dict[str, Any]) -> None:
    """A Succeeded TrainingRun with autoRelease: the gate decides, once. `seen` (kopf's copy)
    may lag the gate's own last write, so the run is read fresh before deciding."""
    if not gate.is_candidate(dict(seen.get("status") or {}), dict(seen.get("spec") or {})):
        return
    body = memo.releases.cluster.get_training_run(key.namespace, key.name)
    if body is None or not gate.is_candidate(body.get("status") or {}, body.get("spec") or {}):
        return
    decided = gate.decide(memo.releases.cluster, memo.settings, body)
    uid = body["metadata"]["uid"]
    _post(_involved(c.TRAINING_RUN_KIND, key.namespace, key.name, uid), decided)
