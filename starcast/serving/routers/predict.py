"""`POST /api/v1/predict`: stars for one or many repositories, by features or by owner/name."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError

from starcast.github import LookupFailedError, LookupUnavailableError, RepositoryNameError
from starcast.serving.lookup import rows_from_records
from starcast.serving.model_info import FEATURES_HEADER, feature_notes
from starcast.serving.schemas import ErrorResponse, Prediction, PredictRequest, PredictResponse
from starcast.serving.services import Services, ServicesDep
from starcast.serving.wire import FeatureValue

router = APIRouter(prefix="/api/v1", tags=["predictions"])

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "the body is not UTF-8, or nested too deeply"},
    413: {"model": ErrorResponse, "description": "request body too large"},
    415: {"model": ErrorResponse, "description": "the body is not JSON (`application/json`)"},
    422: {
        "model": ErrorResponse,
        "description": "invalid request (`problems` names the fields), or by owner/name "
        "without a GitHub token on the frontend",
    },
    502: {"model": ErrorResponse, "description": "a worker (or GitHub) failed"},
    503: {
        "model": ErrorResponse,
        "description": "the queue is unavailable, or GitHub rate-limits (`Retry-After`)",
    },
    504: {"model": ErrorResponse, "description": "no answer within the deadline"},
}


@router.post(
    "/predict",
    summary="Predict the stars of repositories",
    response_model=PredictResponse,
    responses={
        200: {
            "description": "one prediction per repository, in order",
            "headers": {
                FEATURES_HEADER: {
                    "description": "the features the answering model reads, comma-separated",
                    "schema": {"type": "string"},
                }
            },
        },
        **ERROR_RESPONSES,
    },
)
async def predict(request: PredictRequest, services: ServicesDep) -> Response:
    settings = services.settings
    deadline = time.monotonic() + settings.request_timeout_s
    count = len(request.repositories)
    if count > settings.max_request_repositories:
        raise _invalid(
            ("body", "repositories"),
            f"at most {settings.max_request_repositories} repositories per request, got {count}",
        )
    rows = await _feature_rows(request, services, deadline)
    predictions = await services.batcher.predict(rows, deadline)
    answers = []
    for item, row, prediction in zip(request.repositories, rows, predictions, strict=True):
        # Only what the client typed: features fetched from GitHub are the server's business.
        ignored, warnings = ([], []) if item.features is None else feature_notes(row, prediction)
        answers.append(
            Prediction(
                full_name=item.full_name,
                predicted_stars=prediction.stars,
                model_version=prediction.model_version,
                ignored_features=ignored,
                warnings=warnings,
            )
        )
    # Serialised here, once: FastAPI would validate the model it was just built from again.
    response = Response(
        PredictResponse(predictions=answers).model_dump_json(), media_type="application/json"
    )
    models = {prediction.model_features for prediction in predictions}
    if len(models) == 1 and predictions[0].model_features:  # one model answered
        response.headers[FEATURES_HEADER] = ",".join(predictions[0].model_features)
    return response


async def _feature_rows(
    request: PredictRequest, services: Services, deadline: float
) -> list[dict[str, FeatureValue]]:
    rows: list[dict[str, FeatureValue] | None] = [
        item.features.to_row() if item.features is not None else None
        for item in request.repositories
    ]
    by_name = {
        index: item.full_name
        for index, item in enumerate(request.repositories)
        if item.features is None and item.full_name is not None
    }
    if by_name:
        found = await _look_up(by_name, services, deadline)
        unknown = [index for index, name in by_name.items() if name not in found]
        if unknown:
            raise _invalid(
                ("body", "repositories", unknown[0], "full_name"),
                f"GitHub has no repository {by_name[unknown[0]]!r}",
            )
        for index, name in by_name.items():
            rows[index] = found[name]
    return [row if row is not None else {} for row in rows]


async def _look_up(
    by_name: dict[int, str], services: Services, deadline: float
) -> dict[str, dict[str, FeatureValue]]:
    if services.lookup is None:  # `starcast serve frontend` builds one whenever it has a token
        raise LookupUnavailableError(
            "prediction by owner/name needs a GitHub token: set STARCAST_GITHUB_TOKEN on "
            "the frontend, or send the repository's `features`"
        )
    names = sorted(set(by_name.values()))
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            records = await services.lookup.records(names)
    except TimeoutError as error:
        raise LookupFailedError("GitHub did not answer before the deadline") from error
    except RepositoryNameError as error:
        # The lookup names the bad name; the first item that asked for it takes the blame.
        where = [i for i, name in by_name.items() if name == error.full_name][:1]
        loc: tuple[str | int, ...] = ("body", "repositories", *where, "full_name")
        raise _invalid(loc, str(error)) from error
    known = [name for name in names if name in records]
    rows = rows_from_records([records[name] for name in known])
    return dict(zip(known, rows, strict=True))


def _invalid(loc: tuple[str | int, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message}])
