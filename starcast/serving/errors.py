"""Failures as HTTP answers: a status saying whose fault it is, a detail saying what to do."""

from __future__ import annotations

import math
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from starcast.github import LookupFailedError, LookupUnavailableError
from starcast.serving.dispatch import (
    BrokerUnavailableError,
    DeadlineExceededError,
    WorkerFailedError,
)
from starcast.serving.metrics import ErrorKind
from starcast.serving.schemas import ErrorResponse, FieldProblem
from starcast.serving.services import services_of


def field_path(loc: Sequence[int | str]) -> str:
    """`("body", "repositories", 0, "features", "forks")` -> `repositories[0].features.forks`."""
    parts = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def problems_of(errors: Sequence[Any]) -> list[FieldProblem]:
    problems = []
    for error in errors:
        if error.get("type") == "json_invalid":
            problems.append(FieldProblem(field="body", problem=f"not valid JSON: {error['msg']}"))
            continue
        message = str(error.get("msg", "invalid"))
        cause = error.get("ctx", {}).get("error")
        if error.get("type") == "value_error" and cause is not None:
            message = str(cause)  # our validator's words, without pydantic's "Value error, "
        problems.append(FieldProblem(field=field_path(error.get("loc", ())), problem=message))
    return problems


def _answer(code: int, detail: str, problems: list[FieldProblem] | None = None) -> JSONResponse:
    body = ErrorResponse(detail=detail, problems=problems or [])
    return JSONResponse(body.model_dump(), status_code=code)


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def unparsable_body(error: BaseException | None) -> str | None:
    """Why FastAPI could not read a JSON body (it says only "There was an error parsing the
    body"), or None when the cause is something else."""
    if isinstance(error, UnicodeDecodeError):
        return f"the body is not UTF-8 text ({error.reason} at byte {error.start}); send UTF-8 JSON"
    if isinstance(error, RecursionError):
        return "the body is nested too deeply to read; send a flatter JSON document"
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        services_of(request).metrics.error(ErrorKind.VALIDATION)
        content_type = request.headers.get("content-type")
        if request.method == "POST" and not is_json(content_type):
            # FastAPI hands a non-JSON body to validation as bytes; say what the API takes.
            return _answer(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"the body must be JSON: send it with `content-type: application/json` "
                f"(got {content_type or 'no content-type'})",
            )
        problems = problems_of(error.errors())
        summary = "; ".join(f"{p.field}: {p.problem}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        return _answer(
            HTTPStatus.UNPROCESSABLE_ENTITY,  # the stdlib name works with any Starlette
            f"invalid request: {summary}{more}",
            problems,
        )

    async def late(request: Request, error: Exception) -> JSONResponse:
        services = services_of(request)
        services.metrics.error(ErrorKind.DEADLINE)
        timeout = services.settings.request_timeout_s
        return _answer(
            status.HTTP_504_GATEWAY_TIMEOUT,
            f"no prediction within the {timeout:g} s deadline: {error}; try again later",
        )

    async def no_broker(request: Request, error: Exception) -> JSONResponse:
        services_of(request).metrics.error(ErrorKind.BROKER)
        return _answer(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the prediction queue is unavailable: {error}; try again later",
        )

    async def worker_failed(request: Request, error: Exception) -> JSONResponse:
        services_of(request).metrics.error(ErrorKind.WORKER)
        return _answer(status.HTTP_502_BAD_GATEWAY, f"a worker failed to predict: {error}")

    async def no_lookup(request: Request, error: Exception) -> JSONResponse:
        services_of(request).metrics.error(ErrorKind.LOOKUP_UNAVAILABLE)
        # The request, not the server, is what can't be served as sent: a 4xx with the fix
        # (a 501 reads as a server error to clients and fuzzers).
        return _answer(HTTPStatus.UNPROCESSABLE_ENTITY, str(error))

    async def lookup_failed(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, LookupFailedError)
        services_of(request).metrics.error(ErrorKind.LOOKUP)
        detail = f"GitHub could not be asked: {error}"
        if error.retry_after_s is None:
            return _answer(status.HTTP_502_BAD_GATEWAY, detail)
        # Rate limited: nothing is broken, the answer is "later", and GitHub said when.
        answer = _answer(status.HTTP_503_SERVICE_UNAVAILABLE, detail)
        answer.headers["Retry-After"] = str(math.ceil(error.retry_after_s))
        return answer

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        detail = unparsable_body(error.__cause__)
        if detail is not None:
            services_of(request).metrics.error(ErrorKind.VALIDATION)
            return _answer(status.HTTP_400_BAD_REQUEST, detail)
        answer = _answer(error.status_code, str(error.detail))
        answer.headers.update(error.headers or {})
        return answer

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(DeadlineExceededError, late)
    app.add_exception_handler(BrokerUnavailableError, no_broker)
    app.add_exception_handler(WorkerFailedError, worker_failed)
    app.add_exception_handler(LookupUnavailableError, no_lookup)
    app.add_exception_handler(LookupFailedError, lookup_failed)
