"""Start the operator: kopf with starcast's registry, namespaces, peering and liveness."""

from __future__ import annotations

import asyncio
import threading

import kopf

from starcast.operator.handlers import build_registry
from starcast.operator.metrics import OperatorMetrics
from starcast.operator.settings import OperatorSettings


async def operate(
    settings: OperatorSettings,
    *,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
) -> None:
    """Run until `stop_flag` is set (or a signal, in the main thread)."""
    liveness = (
        f"http://{settings.liveness_host}:{settings.liveness_port}/healthz"
        if settings.liveness_port
        else None
    )
    await kopf.operator(
        registry=build_registry(settings, OperatorMetrics()),
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        standalone=settings.peering is None,
        peering_name=settings.peering,
        priority=settings.priority,
        liveness_endpoint=liveness,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
        memo=kopf.Memo(),
    )


def run_operator(settings: OperatorSettings) -> None:
    asyncio.run(operate(settings))
