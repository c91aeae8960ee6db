"""Chart tests: the plane's helm and kubectl, the tests' RabbitMQ, S3 server and models."""

from tests.support.kube import kube_namespace, kube_plane, pytest_collection_finish
from tests.support.rabbitmq import broker_url, rabbitmq

__all__ = ["broker_url", "kube_namespace", "kube_plane", "pytest_collection_finish", "rabbitmq"]
