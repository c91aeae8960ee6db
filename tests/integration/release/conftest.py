"""ModelRelease fixtures: the plane, the CRDs, the test workers, the operator as a process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kube import KubePlane, kube_namespace, kube_plane, pytest_collection_finish
from tests.support.models import model_artifact
from tests.support.operator_process import OperatorProcess
from tests.support.rabbitmq import broker_url, rabbitmq
from tests.support.release import (
    ReadyWatch,
    install_crds,
    install_workers,
    release_operator,
)

__all__ = [
    "broker_url",
    "kube_namespace",
    "kube_plane",
    "model_artifact",
    "pytest_collection_finish",
    "rabbitmq",
]


@pytest.fixture(scope="session")
def release_crds(kube_plane: KubePlane) -> None:
    install_crds(kube_plane)


@pytest.fixture
def workers(kube_plane: KubePlane, kube_namespace: str, release_crds: None) -> str:
    """The serving release's worker Deployment (4 Ready pods of model v1); its namespace."""
    install_workers(kube_plane, kube_namespace)
    return kube_namespace


@pytest.fixture
def operator(kube_plane: KubePlane, workers: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    process = release_operator(kube_plane, workers, tmp_path / "operator.log")
    try:
        yield process
    finally:
        process.stop()
        print(process.log_tail(20000))  # shown when the test failed


@pytest.fixture
def ready_watch(workers: str) -> Iterator[ReadyWatch]:
    watch = ReadyWatch(workers)
    watch.start()
    yield watch
    watch.stop()
