"""The /metrics endpoint the operator and the workers share: served, scraped, stopped."""

from __future__ import annotations

import httpx
import pytest

from starcast.operator.metrics import OperatorMetrics
from starcast.serving.worker_metrics import WorkerMetrics


def scrape(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def test_the_operator_serves_its_own_series_until_stopped() -> None:
    metrics = OperatorMetrics()
    metrics.rayjobs_created.inc(3)
    metrics.serve("127.0.0.1", 0)
    port = metrics.port
    try:
        assert "starcast_operator_rayjobs_created_total 3.0" in scrape(port)
    finally:
        metrics.stop()
    with pytest.raises(httpx.ConnectError):
        scrape(port)


def test_a_worker_serves_its_series_not_the_operators() -> None:
    metrics = WorkerMetrics()
    metrics.batch_done("v1", rows=4, seconds=0.01)
    metrics.serve("127.0.0.1", 0)
    try:
        body = scrape(metrics.port)
    finally:
        metrics.stop()
    assert 'starcast_worker_predictions_total{model_version="v1"} 4.0' in body
    assert "starcast_operator_" not in body


def test_serving_twice_is_refused_and_stopping_twice_is_harmless() -> None:
    metrics = WorkerMetrics()
    metrics.serve("127.0.0.1", 0)
    try:
        with pytest.raises(RuntimeError, match="already served"):
            metrics.serve("127.0.0.1", 0)
    finally:
        metrics.stop()
    metrics.stop()
    with pytest.raises(RuntimeError, match="not served"):
        _ = metrics.port
