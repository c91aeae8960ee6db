"""One plane, one operator, one RayJob executor and one local Ray for the whole session.

- `starcast_crds`: the generated CRDs, installed once.
- `kuberay_crds`: KubeRay's real RayJob and RayCluster CRDs (reinstalled if a test removed them).
- `operator`: the real operator process, cluster-wide, standalone (tests may kill and restart it).
- `executor`: the stand-in for KubeRay's job execution (tests/support/rayjob_executor.py); it acts
  only in namespaces a test hands it, so KubeRay's real controller can own others.
- `training_namespace`: a fresh namespace served by the executor, with a bucket, a storage
  Secret and the sample dataset in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from kubernetes import client, config

from starcast import artifact
from starcast.sample import sample_dataset_uri
from starcast.storage import read_bytes
from tests.integration.operator.resources import quick_spec, training_run
from tests.support.kube import KubePlane, kube_namespace, kube_plane
from tests.support.kube import pytest_collection_finish as build_plane
from tests.support.kuberay import (
    build_at_collection,
    install_crds,
    kuberay_dir_for,
    wait_established,
)
from tests.support.local_ray import local_ray
from tests.support.models import fitted_model
from tests.support.operator_process import OperatorProcess, operator_env
from tests.support.rayjob_executor import LocalRayJobExecutor
from tests.support.s3 import REGION

__all__ = ["kube_namespace", "kube_plane"]

CRD_DIR = Path(__file__).resolve().parents[3] / "charts" / "starcast-operator" / "crds"
SECRET_NAME = "storage"
ACCESS_KEY, SECRET_KEY = "starcast-test", "starcast-test-secret"


def pytest_collection_finish(session: pytest.Session) -> None:
    build_plane(session)
    build_at_collection(session)


@pytest.fixture(scope="session")
def kuberay_dir(pytestconfig: pytest.Config) -> Path:
    return kuberay_dir_for(pytestconfig)


@pytest.fixture(scope="session")
def starcast_crds(kube_plane: KubePlane) -> None:
    kube_plane.kubectl("apply", "--server-side", "-f", str(CRD_DIR))
    for crd in ("trainingruns.starcast.io", "modelreleases.starcast.io"):
        wait_established(kube_plane, crd)


@pytest.fixture
def kuberay_crds(kube_plane: KubePlane, kuberay_dir: Path) -> None:
    install_crds(kube_plane, kuberay_dir)


@pytest.fixture(scope="session")
def api_client(kube_plane: KubePlane) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kube_plane.kubeconfig), client_configuration=configuration
    )
    return client.ApiClient(configuration)


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """A real local Ray: the jobs join it through RAY_ADDRESS, as on a RayJob's head."""
    with local_ray() as address:
        yield address


@pytest.fixture(scope="session")
def executor(
    api_client: client.ApiClient, ray_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRayJobExecutor]:
    stand_in = LocalRayJobExecutor(
        api_client, ray_address=ray_address, log_dir=tmp_path_factory.mktemp("rayjobs")
    ).start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture(scope="session")
def operator(
    kube_plane: KubePlane,
    starcast_crds: None,
    s3_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    env = operator_env(
        kube_plane.env,
        storage_endpoint=s3_endpoint,
        storage_region=REGION,
        trainer_image="starcast-trainer:test",
        kuberay_check_seconds="2",
    )
    process = OperatorProcess(
        env, tmp_path_factory.mktemp("operator") / "operator.log", "--standalone"
    ).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def alone(operator: OperatorProcess) -> Iterator[None]:
    """The session's operator stopped while a test runs its own (two would both act)."""
    operator.stop()
    try:
        yield
    finally:
        operator.start()


@dataclass(frozen=True)
class TrainingNamespace:
    name: str
    bucket: str
    dataset_uri: str
    s3: Any  # a boto3 S3 client

    def output_prefix(self) -> str:
        return f"s3://{self.bucket}/models"

    def run(self, name: str, **spec: Any) -> dict[str, Any]:
        """A quick TrainingRun on this namespace's dataset; `spec` overrides fields."""
        return training_run(
            name, self.name, **(quick_spec(self.dataset_uri, self.output_prefix()) | spec)
        )


@pytest.fixture
def training_namespace(
    kube_plane: KubePlane,
    kube_namespace: str,
    s3_bucket: str,
    s3_endpoint: str,
    starcast_crds: None,
) -> TrainingNamespace:
    """A namespace with a storage Secret, a bucket holding the sample dataset."""
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    s3.put_object(Bucket=s3_bucket, Key="data/repos.parquet", Body=read_bytes(sample_dataset_uri()))
    kube_plane.kubectl(
        "create", "secret", "generic", SECRET_NAME, "-n", kube_namespace,
        f"--from-literal=AWS_ACCESS_KEY_ID={ACCESS_KEY}",
        f"--from-literal=AWS_SECRET_ACCESS_KEY={SECRET_KEY}",
    )  # fmt: skip
    return TrainingNamespace(
        name=kube_namespace,
        bucket=s3_bucket,
        dataset_uri=f"s3://{s3_bucket}/data/repos.parquet",
        s3=s3,
    )


@pytest.fixture
def served(
    executor: LocalRayJobExecutor,
    training_namespace: TrainingNamespace,
    operator: OperatorProcess,
    kuberay_crds: None,
) -> TrainingNamespace:
    """The namespace, its RayJobs executed by the stand-in, KubeRay's CRDs, the operator."""
    executor.serve(training_namespace.name)
    return training_namespace


@pytest.fixture
def prepared_artifact(executor: LocalRayJobExecutor) -> Iterator[Callable[[str], None]]:
    """Jobs succeed by committing a ready model at their --out (no training)."""
    model_bytes, manifest = fitted_model()

    def write(uri: str) -> None:
        artifact.write_artifact(uri, model_bytes, manifest)

    executor.write_artifact_from(write)
    yield write
    executor.write_artifact_from(None)
