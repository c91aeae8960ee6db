"""`GET /api/v1/model` and the model's report picture: what the serving model is and reads."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response

from starcast.serving.model_info import REPORT_PATH, info_from_artifact, info_from_worker
from starcast.serving.routers.predict import ERROR_RESPONSES
from starcast.serving.schemas import ErrorResponse, ModelInfo
from starcast.serving.services import Services, ServicesDep

router = APIRouter(tags=["model"])


@router.get(
    "/api/v1/model",
    summary="The serving model: version, cross-validated score, the features it reads",
    response_model=ModelInfo,
    responses={503: ERROR_RESPONSES[503], 504: ERROR_RESPONSES[504]},
)
async def model(services: ServicesDep) -> ModelInfo:
    return await current_model(services)


async def current_model(services: Services) -> ModelInfo:
    """From the artifact this frontend was given; else ask a worker, with one repository it
    knows nothing about (DispatchError if none answers)."""
    if services.model is not None:
        return info_from_artifact(services.model)
    deadline = time.monotonic() + services.settings.request_timeout_s
    [prediction] = await services.batcher.predict([{}], deadline)
    return info_from_worker(prediction)


@router.get(
    REPORT_PATH,
    summary="Predicted against actual stars on the CV folds (the artifact's report.png)",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}},
        404: {"model": ErrorResponse, "description": "this frontend has no report to show"},
    },
)
async def report(services: ServicesDep) -> Response:
    served = services.model
    if served is None or served.report_png is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "no report: this frontend was not given the model artifact (STARCAST_MODEL_URI), "
            "or the artifact has no report.png",
        )
    return Response(
        served.report_png,
        media_type="image/png",
        # One version's report never changes; a new model is a new version.
        headers={"Cache-Control": "max-age=3600", "ETag": f'"{served.manifest.model_sha256}"'},
    )
