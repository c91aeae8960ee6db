"""kopf handlers of ModelRelease: one timer per unfinished release drives its reconcile.

The reconcile is level-triggered and keeps its state in the status, so a timer is enough and
two handlers never race on one release: it looks once a second (the Deployment's progress,
the user's promote/abort annotations, the canary's pause and analysis) and stops when the
release ends.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

import httpx
import kopf

from starcast.operator import constants as c
from starcast.operator import events
from starcast.operator.cluster import ConflictError, TransientError, api_client
from starcast.operator.metrics import OperatorMetrics
from starcast.operator.release import gate
from starcast.operator.release.analysis import PrometheusUnreachableError
from starcast.operator.release.kube import ReleaseCluster
from starcast.operator.release.reconcile import sync_model_release
from starcast.operator.release.state import TERMINAL_PHASES, ReleaseContext, ReleaseEvent
from starcast.operator.settings import OperatorSettings

logger = logging.getLogger(__name__)

MODEL_RELEASE: Final = "ModelRelease"
SYNC_INTERVAL_S: Final = 1.0
GATE_INTERVAL_S: Final = 2.0
MEMO_KEY: Final = "release_ctx"


def _post(involved: dict[str, str], event: ReleaseEvent) -> None:
    events.post(involved, event.type, event.reason, event.message)


def register_model_release_handlers(
    registry: kopf.OperatorRegistry, settings: OperatorSettings, metrics: OperatorMetrics
) -> None:
    mr = (c.GROUP, c.VERSION, c.MODEL_RELEASE_PLURAL)

    @kopf.on.startup(id="connect-releases", registry=registry)
    def connect_releases(memo: Any, **_: Any) -> None:
        memo[MEMO_KEY] = ReleaseContext(
            cluster=ReleaseCluster(api_client(settings.workers)),
            http=httpx.Client(),
            watched=tuple(settings.namespaces),
        )

    @kopf.on.cleanup(id="close-releases", registry=registry)
    def close_releases(memo: Any, **_: Any) -> None:
        ctx: ReleaseContext | None = memo.get(MEMO_KEY)
        if ctx is not None:
            ctx.http.close()

    @kopf.timer(
        *mr,
        id="sync-model-release",
        interval=SYNC_INTERVAL_S,
        when=lambda status, **_: status.get("phase") not in TERMINAL_PHASES,
        registry=registry,
    )
    def reconcile_model_release(
        namespace: str | None, name: str, uid: str, memo: Any, **_: Any
    ) -> None:
        assert namespace is not None  # a namespaced kind
        started = time.monotonic()
        try:
            result = sync_model_release(namespace, name, memo[MEMO_KEY])
        except (TransientError, ConflictError, PrometheusUnreachableError) as error:
            metrics.reconciles.labels(MODEL_RELEASE, "requeued").inc()
            raise kopf.TemporaryError(str(error), delay=SYNC_INTERVAL_S) from error
        except Exception as error:
            metrics.errors.labels(MODEL_RELEASE, type(error).__name__).inc()
            raise
        finally:
            metrics.observe_reconcile(time.monotonic() - started, MODEL_RELEASE)
        metrics.reconciles.labels(MODEL_RELEASE, "ok").inc()
        involved = {
            "apiVersion": c.API_VERSION,
            "kind": c.MODEL_RELEASE_KIND,
            "namespace": namespace,
            "name": name,
            "uid": uid,
        }
        for event in result.events:
            _post(involved, event)

    @kopf.timer(
        c.GROUP,
        c.VERSION,
        c.TRAINING_RUN_PLURAL,
        id="release-gate",
        interval=GATE_INTERVAL_S,
        when=lambda status, spec, **_: gate.is_candidate(dict(status), dict(spec)),
        registry=registry,
    )
    def release_trained_model(
        namespace: str | None, name: str, uid: str, body: kopf.Body, memo: Any, **_: Any
    ) -> None:
        """A Succeeded TrainingRun with autoRelease: the gate decides, once."""
        assert namespace is not None
        ctx: ReleaseContext = memo[MEMO_KEY]
        try:
            events = gate.decide(ctx.cluster, settings, dict(body))
        except (TransientError, ConflictError) as error:
            raise kopf.TemporaryError(str(error), delay=GATE_INTERVAL_S) from error
        involved = {
            "apiVersion": c.API_VERSION,
            "kind": c.TRAINING_RUN_KIND,
            "namespace": namespace,
            "name": name,
            "uid": uid,
        }
        for event in events:
            _post(involved, event)
