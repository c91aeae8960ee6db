"""The broker restarts under load: the frontend and the workers reconnect by themselves.

Requests outlive the outage (their deadline is longer than a restart), so none should fail:
batches published before the restart are lost with the broker's transient queues, and the
frontend sends them again once its reply queue is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from starcast.up.rabbitmq import RabbitMQServer
from tests.integration.serving.stack import ServingStack
from tests.support.models import ModelArtifact

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS = 4
REQUEST = {"repositories": [{"features": {"open_issues": 1, "license": "MIT"}}]}


@dataclass(frozen=True)
class Outcome:
    sent_at: float
    status: int
    detail: str


def test_frontend_recovers_by_itself_after_the_broker_restarts(
    make_stack: Callable[[], ServingStack],
    model_artifact: ModelArtifact,
    rabbitmq: RabbitMQServer,
) -> None:
    stack = make_stack()
    stack.start_worker(model_artifact)
    stack.start_frontend(request_timeout_s=90)
    stack.wait_until_ready()
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=stack.base_url, timeout=120) as http:
            while not stop.is_set():
                sent_at = time.monotonic()
                try:
                    answer = http.post("/api/v1/predict", json=REQUEST)
                    outcomes.append(Outcome(sent_at, answer.status_code, answer.text))
                except httpx.HTTPError as error:
                    outcomes.append(Outcome(sent_at, -1, repr(error)))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        stack.wait_for(lambda: len(outcomes) >= 20, "answers before the restart", stack.frontends)
        rabbitmq.restart()
        restarted = time.monotonic()
        stack.wait_for(
            lambda: any(o.sent_at > restarted and o.status == 200 for o in outcomes),
            "an answer after the restart",
            [*stack.frontends, *(worker.process for worker in stack.workers)],
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=180)
    failures = [o for o in outcomes if o.status != 200]
    assert not failures, failures[:5]
    assert any(o.sent_at < restarted - 1 for o in outcomes), "no load before the restart"
    readiness = httpx.get(f"{stack.base_url}/readyz", timeout=10)
    assert readiness.status_code == 200, readiness.text
