"""Chart tests: the plane's helm and kubectl, the tests' RabbitMQ, S3 server and models."""

import pytest

from tests.support import kube
from tests.support.kube import kube_namespace, kube_plane
from tests.support.metrics_server import build_at_collection_finish, resource_metrics
from tests.support.rabbitmq import broker_url, rabbitmq

__all__ = ["broker_url", "kube_namespace", "kube_plane", "rabbitmq", "resource_metrics"]


def pytest_collection_finish(session: pytest.Session) -> None:
    """The plane's binaries, then metrics-server, built before the first test (both cached)."""
    kube.pytest_collection_finish(session)
    build_at_collection_finish(session)
