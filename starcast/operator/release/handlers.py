"""kopf handlers of ModelRelease: one timer per unfinished release drives its reconcile.

The reconcile is level-triggered and keeps its state in the status, so a timer is enough and
two handlers never race on one release: it looks once a second (the Deployment's progress,
the user's promote/abort annotations, the canary's pause and analysis) and stops when the
release ends.
"""

from __future__ import annotations

import time
from typing import Any, Final, cast

import httpx
import kopf

from starcast.operator import constants as c
from starcast.operator.cluster import ConflictError, TransientError, api_client
from starcast.operator.metrics import OperatorMetrics
from starcast.operator.release.analysis import PrometheusUnreachableError
from starcast.operator.release.kube import ReleaseCluster
from starcast.operator.release.reconcile import sync_model_release
from starcast.operator.release.state import TERMINAL_PHASES, ReleaseContext
from starcast.operator.settings import OperatorSettings

MODEL_RELEASE: Final = "ModelRelease"
SYNC_INTERVAL_S: Final = 1.0
MEMO_KEY: Final = "release_ctx"


def register_model_release_handlers(
    registry: kopf.OperatorRegistry, settings: OperatorSettings, metrics: OperatorMetrics
) -> None:
    mr = (c.GROUP, c.VERSION, c.MODEL_RELEASE_PLURAL)

    @kopf.on.startup(registry=registry)
    def connect_releases(memo: Any, **_: Any) -> None:
        memo[MEMO_KEY] = ReleaseContext(
            cluster=ReleaseCluster(api_client(settings.workers)), http=httpx.Client()
        )

    @kopf.on.cleanup(registry=registry)
    def close_releases(memo: Any, **_: Any) -> None:
        ctx: ReleaseContext | None = memo.get(MEMO_KEY)
        if ctx is not None:
            ctx.http.close()

    @kopf.timer(
        *mr,
        interval=SYNC_INTERVAL_S,
        when=lambda status, **_: status.get("phase") not in TERMINAL_PHASES,
        registry=registry,
    )
    def reconcile_model_release(
        namespace: str | None, name: str, body: kopf.Body, memo: Any, **_: Any
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
        for event in result.events:
            kopf.event(
                kopf.Body(cast("kopf.RawBody", dict(body))),
                type=event.type,
                reason=event.reason,
                message=event.message,
            )
