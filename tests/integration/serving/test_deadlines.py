"""A request that can't be answered in time gets a 504 that says why, never a hang."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from starcast.up.processes import free_port
from tests.integration.serving.stack import ServingStack

pytestmark = pytest.mark.integration

REQUEST = {"repositories": [{"features": {"open_issues": 1}}]}


def test_no_worker_means_504_naming_the_workers(make_stack: Callable[[], ServingStack]) -> None:
    stack = make_stack()
    stack.start_frontend(request_timeout_s=2)
    answer = httpx.post(f"{stack.base_url}/api/v1/predict", json=REQUEST, timeout=30)
    assert answer.status_code == 504
    assert "within the 2 s deadline" in answer.json()["detail"]
    assert "no worker answered" in answer.json()["detail"]
    readiness = httpx.get(f"{stack.base_url}/readyz", timeout=10).json()
    assert readiness["ready"] is False
    assert readiness["broker"]["ok"] is True
    assert "no worker consuming queue" in readiness["workers"]["detail"]


def test_unreachable_broker_means_504_naming_the_broker(
    make_stack: Callable[[], ServingStack],
) -> None:
    stack = make_stack()
    stack.broker_url = f"amqp://guest:guest@127.0.0.1:{free_port()}//"  # nothing listens
    stack.start_frontend(request_timeout_s=2)
    answer = httpx.post(f"{stack.base_url}/api/v1/predict", json=REQUEST, timeout=30)
    assert answer.status_code == 504
    assert "the broker was unreachable" in answer.json()["detail"]
    readiness = httpx.get(f"{stack.base_url}/readyz", timeout=10)
    assert readiness.status_code == 503
    assert readiness.json()["broker"]["ok"] is False
