"""Liveness and readiness, for Kubernetes probes and for people."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from starcast.serving.schemas import HealthResponse, ReadinessResponse
from starcast.serving.services import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> HealthResponse:
    return HealthResponse()


@router.get(
    "/readyz",
    summary="The broker is reachable and a worker consuming our queue answers",
    responses={503: {"model": ReadinessResponse, "description": "not ready; see the checks"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    broker, workers = await services.probe.check()
    answer = ReadinessResponse(ready=broker.ok and workers.ok, broker=broker, workers=workers)
    code = status.HTTP_200_OK if answer.ready else status.HTTP_503_SERVICE_UNAVAILABLE
    return JSONResponse(answer.model_dump(), status_code=code)
