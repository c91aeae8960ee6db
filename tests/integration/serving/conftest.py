"""Serving fixtures: the test broker, model artifacts, and stacks of real serving processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from starcast.up.rabbitmq import RabbitMQServer
from tests.integration.serving.stack import ServingStack
from tests.support.models import ModelArtifact, model_artifact, slow_model_artifact
from tests.support.rabbitmq import broker_url, rabbitmq

__all__ = ["broker_url", "model_artifact", "rabbitmq", "slow_model_artifact"]

SHARED_FRONTEND = {
    "batch_window_ms": 50,  # wide, so concurrent test requests surely share a batch
    "max_batches_in_flight": 1,
    "max_request_repositories": 10,
    "max_body_bytes": 64 * 1024,
    "request_timeout_s": 30,
}


@pytest.fixture
def make_stack(broker_url: str, tmp_path: Path) -> Iterator[Callable[[], ServingStack]]:
    """Stacks for one test, stopped after it."""
    stacks: list[ServingStack] = []

    def make() -> ServingStack:
        stack = ServingStack(tmp_path / f"stack-{len(stacks)}", broker_url)
        stack.base_dir.mkdir()
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture(scope="session")
def shared_stack(
    rabbitmq: RabbitMQServer,
    model_artifact: ModelArtifact,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServingStack]:
    """One worker and one frontend (small bounds) for the tests that only send requests."""
    if not rabbitmq.running:
        rabbitmq.start()
    stack = ServingStack(tmp_path_factory.mktemp("shared-stack"), rabbitmq.url)
    try:
        stack.start_worker(model_artifact)
        stack.start_frontend(**SHARED_FRONTEND)
        stack.wait_until_ready()
        yield stack
    finally:
        stack.stop()
