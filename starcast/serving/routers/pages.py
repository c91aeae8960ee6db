"""The pages users of the original Flask apps know: `/` and `/predictions`.

Every file a page uses comes from this server (`/static`, the model's report): the pages work
offline, and their Content-Security-Policy makes a browser refuse anything from another host.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse

from starcast.features import FEATURES_BY_NAME, FeatureKind
from starcast.serving.dispatch import DeadlineExceededError, DispatchError
from starcast.serving.routers.model import current_model
from starcast.serving.schemas import FULL_NAME_PATTERN, ModelInfo
from starcast.serving.services import ServicesDep

PAGE_POLICY: Final = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"


def html_pattern(pattern: str) -> str:
    """A Python regex as an HTML `pattern`: browsers compile it with the `v` flag, which refuses
    a literal `-` at the end of a character class (Chromium then drops the check and logs an
    error), and anchor it themselves."""
    return pattern.strip("^$").replace("-]", r"\-]")


router = APIRouter(tags=["pages"])


@dataclass(frozen=True)
class FormField:
    name: str
    kind: str  # the input's: integer, number, boolean or text
    description: str


def form_fields(model: ModelInfo | None) -> list[FormField]:
    """An input per feature the model reads (every feature, if the model is not known)."""
    names = model.features if model is not None else list(FEATURES_BY_NAME)
    fields = []
    for name in names:
        feature = FEATURES_BY_NAME[name]
        if feature.kind == FeatureKind.NUMERIC:
            kind = "integer" if feature.whole else "number"
        else:
            kind = "boolean" if feature.kind == FeatureKind.BOOLEAN else "text"
        fields.append(FormField(name, kind, feature.description))
    return fields


@router.get("/", response_class=HTMLResponse, summary="Welcome page")
async def index(request: Request, services: ServicesDep) -> HTMLResponse:
    model: ModelInfo | None = None
    model_error = None
    try:
        model = await current_model(services)
    except DispatchError as error:
        model_error = str(error)
    page = services.templates.TemplateResponse(
        request,
        "index.html",
        {
            "model": model,
            "model_error": model_error,
            "form_fields": form_fields(model),
            "by_name": services.lookup is not None,
            "full_name_pattern": html_pattern(FULL_NAME_PATTERN),
        },
    )
    page.headers["Content-Security-Policy"] = PAGE_POLICY
    return page


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
        page = services.templates.TemplateResponse(
            request, "predictions.html", {"rows": [], "error": str(error)}, status_code=code
        )
        page.headers["Content-Security-Policy"] = PAGE_POLICY
        return page
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
    page = services.templates.TemplateResponse(
        request, "predictions.html", {"rows": rows, "versions": versions, "error": None}
    )
    page.headers["Content-Security-Policy"] = PAGE_POLICY
    return page
