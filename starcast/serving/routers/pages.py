"""The pages users of the original Flask apps know: `/` and `/predictions`."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse

from starcast.serving.dispatch import DeadlineExceededError, DispatchError
from starcast.serving.services import ServicesDep

router = APIRouter(tags=["pages"])


@router.get("/", response_class=HTMLResponse, summary="Welcome page")
async def index(request: Request, services: ServicesDep) -> HTMLResponse:
    return services.templates.TemplateResponse(
        request, "index.html", {"settings": services.settings}
    )


@router.get(
    "/predictions",
    response_class=HTMLResponse,
    summary="Predicted beside actual stars for sample repositories, and the model version",
)
async def predictions(request: Request, services: ServicesDep) -> HTMLResponse:
    showcase = services.showcase
    deadline = time.monotonic() + services.settings.request_timeout_s
    try:
        predicted = await services.batcher.predict([repo.features for repo in showcase], deadline)
    except DispatchError as error:
        code = (
            status.HTTP_504_GATEWAY_TIMEOUT
            if isinstance(error, DeadlineExceededError)
            else status.HTTP_503_SERVICE_UNAVAILABLE
        )
        return services.templates.TemplateResponse(
            request, "predictions.html", {"rows": [], "error": str(error)}, status_code=code
        )
    rows = [
        {
            "full_name": repo.full_name,
            "stars": repo.stars,
            "predicted": round(prediction.stars),
            "ratio": prediction.stars / repo.stars if repo.stars else None,
        }
        for repo, prediction in zip(showcase, predicted, strict=True)
    ]
    versions = sorted({prediction.model_version for prediction in predicted})
    return services.templates.TemplateResponse(
        request, "predictions.html", {"rows": rows, "versions": versions, "error": None}
    )
