"""Chart tests: the plane's helm and kubectl, the tests' RabbitMQ, S3 server and models."""

import pytest

from tests.support import kube, kuberay
from tests.support.charts import install_operator_crds
from tests.support.kube import KubePlane, kube_namespace, kube_plane
from tests.support.metrics_server import build_at_collection_finish, resource_metrics
from tests.support.rabbitmq import broker_url, rabbitmq

__all__ = ["broker_url", "kube_namespace", "kube_plane", "rabbitmq", "resource_metrics"]


def pytest_collection_finish(session: pytest.Session) -> None:
    """The plane's binaries, metrics-server and KubeRay, built before the first test (cached)."""
    kube.pytest_collection_finish(session)
    build_at_collection_finish(session)
    if kuberay.BUILD_RESULT not in session.config.stash and any(
        "operator_crds" in getattr(item, "fixturenames", ()) for item in session.items
    ):
        session.config.stash[kuberay.BUILD_RESULT] = kuberay.build_kuberay()


@pytest.fixture(scope="module")
def operator_crds(kube_plane: KubePlane, pytestconfig: pytest.Config) -> None:
    """The operator's CRDs and KubeRay's RayJob CRD, served by the plane."""
    install_operator_crds(kube_plane, kuberay.kuberay_dir_for(pytestconfig))
