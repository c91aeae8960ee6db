"""An analysis measurement: each check's PromQL asked of Prometheus, its value held to bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import httpx
from pydantic import BaseModel

from starcast.operator.models.modelrelease import Analysis, AnalysisCheck

QUERY_TIMEOUT_S: Final = 10.0


class PrometheusUnreachableError(Exception):
    """Prometheus did not answer; the measurement is retried, not counted as failed."""


class _Sample(BaseModel):
    metric: dict[str, str]
    value: tuple[float, str]


class _Data(BaseModel):
    resultType: str  # noqa: N815 - Prometheus' wire name
    result: list[_Sample] | str | float | list[float | str]


class _Answer(BaseModel):
    status: str
    data: _Data | None = None
    error: str | None = None


@dataclass(frozen=True)
class CheckResult:
    name: str
    value: float | None
    passed: bool
    message: str


def render(query: str, *, version: str, stable: str | None) -> str:
    """The check's PromQL with `{{version}}` (the candidate) and `{{stable}}` filled in."""
    return query.replace("{{version}}", version).replace("{{stable}}", stable or "")


def _value(answer: _Answer) -> float | None:
    data = answer.data
    if data is None:
        return None
    if data.resultType == "scalar" and isinstance(data.result, list):
        scalar = data.result[1]
        return float(scalar) if isinstance(scalar, (str, float)) else None
    if isinstance(data.result, list) and data.result and isinstance(data.result[0], _Sample):
        return float(data.result[0].value[1])
    return None


def query(client: httpx.Client, base_url: str, promql: str) -> float | None:
    """The first sample of an instant query (None: no data)."""
    try:
        response = client.get(
            f"{base_url.rstrip('/')}/api/v1/query",
            params={"query": promql},
            timeout=QUERY_TIMEOUT_S,
        )
    except httpx.HTTPError as error:
        raise PrometheusUnreachableError(f"Prometheus at {base_url}: {error}") from error
    if response.status_code >= 500:
        raise PrometheusUnreachableError(f"Prometheus at {base_url}: {response.status_code}")
    answer = _Answer.model_validate_json(response.content)
    if answer.status != "success":
        raise ValueError(f"Prometheus refused the query {promql!r}: {answer.error}")
    return _value(answer)


def evaluate(check: AnalysisCheck, value: float | None) -> CheckResult:
    if value is None or math.isnan(value):
        return CheckResult(check.name, None, False, f"{check.name}: no data")
    if check.max is not None and value > check.max:
        return CheckResult(check.name, value, False, f"{check.name}={value:.4g} > {check.max}")
    if check.min is not None and value < check.min:
        return CheckResult(check.name, value, False, f"{check.name}={value:.4g} < {check.min}")
    return CheckResult(check.name, value, True, f"{check.name}={value:.4g} ok")


def measure(
    client: httpx.Client, analysis: Analysis, *, version: str, stable: str | None
) -> list[CheckResult]:
    """One measurement: every check once. A refused query fails its check, saying why."""
    results = []
    for check in analysis.checks:
        promql = render(check.query, version=version, stable=stable)
        try:
            value = query(client, analysis.prometheus_url, promql)
        except ValueError as error:
            results.append(CheckResult(check.name, None, False, str(error)))
            continue
        results.append(evaluate(check, value))
    return results
