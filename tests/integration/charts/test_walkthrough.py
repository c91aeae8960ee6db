"""The README's walk-through on the plane: both charts, the operator, a TrainingRun, a release.

Both charts go into one namespace labelled pod-security.kubernetes.io/enforce=restricted; every
Deployment rolls out on kwok nodes. The containers that must really run, run as local processes
from what the API server stored (tests/support/charts.py): the operator with the chart's
ServiceAccount token (so the chart's RBAC is what it gets), the worker and the frontend against
the tests' RabbitMQ and S3. The operator reconciles a TrainingRun into a RayJob (KubeRay's real
CRD validates it); a ModelRelease rolls a second model out to the chart's worker Deployment
(the operator applies the model fields as field manager starcast-operator), a `helm upgrade`
with an unrelated change keeps it, and the rendered worker then serves the released model
through the frontend.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import s3fs

from starcast import artifact
from starcast.sample import sample_dataset_uri
from starcast.up.processes import ManagedProcess, free_port, wait_until
from tests.support.charts import (
    OPERATOR_CHART,
    SERVING_CHART,
    ClusterObjects,
    LocalContainer,
    local_container,
    restrict_namespace,
)
from tests.support.kube import KubePlane
from tests.support.kube import wait_until as kube_wait_until
from tests.support.models import fitted_model
from tests.support.s3 import REGION

pytestmark = [pytest.mark.kube, pytest.mark.integration, pytest.mark.slow]

OPERATOR = "starcast-operator"
WORKER = "serving-starcast-serving-worker"
FRONTEND = "serving-starcast-serving-frontend"
START_TIMEOUT_S = 120.0


def _token_kubeconfig(plane: KubePlane, namespace: str, account: str, path: Path) -> Path:
    token = plane.kubectl("create", "token", account, "-n", namespace).stdout.strip()
    admin = plane.kubectl_json("config", "view", "--raw", "--minify")
    cluster = admin["clusters"][0]
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [
                    {"name": account, "context": {"cluster": cluster["name"], "user": account}}
                ],
                "current-context": account,
            }
        )
    )
    path.chmod(0o600)
    return path


def _template(plane: KubePlane, namespace: str, name: str) -> dict[str, Any]:
    deployment = plane.kubectl_json("get", "deployment", name, "-n", namespace)
    template: dict[str, Any] = deployment["spec"]["template"]
    return template


def _model_env(plane: KubePlane, namespace: str) -> tuple[str, str, str]:
    """The model the worker Deployment's pod template carries: URI, digest, version label."""
    template = _template(plane, namespace, WORKER)
    (container,) = (c for c in template["spec"]["containers"] if c["name"] == "worker")
    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    return (
        env["STARCAST_MODEL_URI"],
        env["STARCAST_MODEL_SHA256"],
        template["metadata"]["labels"]["starcast.io/model-version"],
    )


class Processes:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[ManagedProcess] = []

    def start(self, name: str, container: LocalContainer, **env: str) -> ManagedProcess:
        process = ManagedProcess(name, container.argv, {**container.env, **env},
                                 self.log_dir / f"{name}.log")  # fmt: skip
        process.start()
        self.running.append(process)
        return process

    def ready(self, container: LocalContainer, what: str, process: ManagedProcess) -> None:
        wait_until(container.probe, what, [process], timeout_s=START_TIMEOUT_S)

    def stop(self, process: ManagedProcess) -> None:
        process.stop(30)
        self.running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(self.running):
            process.stop(30)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.stop_all()


def _model(s3_bucket: str, family: str) -> tuple[str, artifact.ModelManifest]:
    from sklearn.linear_model import Ridge
    from sklearn.tree import DecisionTreeRegressor

    regressor = Ridge() if family == "ridge" else DecisionTreeRegressor(max_depth=4)
    model_bytes, manifest = fitted_model(regressor=regressor, family=family)
    uri = f"s3://{s3_bucket}/models/{manifest.model_version}"
    artifact.write_artifact(uri, model_bytes, manifest)
    return uri, manifest


def _predict(frontend: LocalContainer) -> dict[str, Any]:
    answer = httpx.post(
        f"http://127.0.0.1:{frontend.port('http')}/api/v1/predict",
        json={"repositories": [{"full_name": "walk/through", "features": {"forks": 40}}]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    prediction: dict[str, Any] = answer.json()["predictions"][0]
    return prediction


@pytest.fixture
def operator_release(kube_plane: KubePlane, kube_namespace: str) -> Iterator[str]:
    """The operator's release name; uninstalled after the test (its ClusterRoles outlive the
    namespace otherwise)."""
    yield OPERATOR
    kube_plane.helm("uninstall", OPERATOR, "-n", kube_namespace, check=False)


def test_walkthrough_train_release_and_predict(
    kube_plane: KubePlane,
    kube_namespace: str,
    operator_crds: None,
    operator_release: str,
    broker_url: str,
    s3_bucket: str,
    s3_endpoint: str,
    processes: Processes,
    tmp_path: Path,
) -> None:
    ns = kube_namespace
    restrict_namespace(kube_plane, ns)
    v1_uri, v1 = _model(s3_bucket, "ridge")
    v2_uri, v2 = _model(s3_bucket, "decision_tree")
    dataset_uri = f"s3://{s3_bucket}/datasets/repos.parquet"
    s3fs.S3FileSystem().put(sample_dataset_uri().removeprefix("file://"), dataset_uri)
    kube_plane.kubectl(
        "create", "secret", "generic", "model-storage", "-n", ns,
        "--from-literal=AWS_ACCESS_KEY_ID=starcast-test",
        "--from-literal=AWS_SECRET_ACCESS_KEY=starcast-test-secret",
    )  # fmt: skip

    # 1. helm install both charts; every Deployment rolls out under `restricted`.
    kube_plane.helm(
        "install", OPERATOR, str(OPERATOR_CHART), "-n", ns, "--wait", "--timeout=180s",
        "--set", f"livenessPort={free_port()}", "--set", f"metricsPort={free_port()}",
        "--set", f"storage.endpointUrl={s3_endpoint}", "--set", f"storage.region={REGION}",
        "--set", "storage.existingSecret=model-storage",
    )  # fmt: skip
    kube_plane.helm(
        "install", "serving", str(SERVING_CHART), "-n", ns, "--wait", "--timeout=180s",
        "--set", "rabbitmq.enabled=false", "--set", f"externalBroker.url={broker_url}",
        "--set", f"queue.name=starcast.walkthrough.{uuid.uuid4().hex[:8]}",
        "--set", f"storage.s3.endpointUrl={s3_endpoint}", "--set", f"storage.s3.region={REGION}",
        "--set", "storage.s3.existingSecret=model-storage",
        "--set", f"worker.model.uri={v1_uri}", "--set", f"worker.model.sha256={v1.model_sha256}",
        "--set", f"worker.model.version={v1.model_version}",
        "--set", f"frontend.containerPort={free_port()}",
    )  # fmt: skip
    for name in (OPERATOR, WORKER, FRONTEND):
        kube_plane.kubectl("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=120s")

    # 2. The operator, as the chart renders it, with the chart's ServiceAccount token.
    objects = ClusterObjects(kube_plane, ns)
    operator = local_container(_template(kube_plane, ns, OPERATOR)["spec"], "operator", objects,
                               tmp_path / "operator")  # fmt: skip
    kubeconfig = _token_kubeconfig(kube_plane, ns, OPERATOR, tmp_path / "operator.kubeconfig")
    started = processes.start("operator", operator, KUBECONFIG=str(kubeconfig))
    processes.ready(operator, "the operator's liveness probe", started)

    run = {
        "apiVersion": "starcast.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "stars", "namespace": ns},
        "spec": {
            "datasetUri": dataset_uri,
            "outputUri": f"s3://{s3_bucket}/models/{{namespace}}/{{name}}",
            "budget": "quick",
            "storageSecretRef": {"name": "model-storage"},
        },
    }
    kube_plane.kubectl("apply", "-f", "-", input=json.dumps(run))

    def rayjob() -> dict[str, Any] | None:
        found = kube_plane.kubectl_json("get", "rayjobs", "-n", ns)["items"]
        return found[0] if found else None

    def run_status() -> dict[str, Any]:
        status: dict[str, Any] = kube_plane.kubectl_json(
            "get", "trainingrun", "stars", "-n", ns
        ).get("status", {})
        return status

    kube_wait_until(
        lambda: rayjob() is not None or run_status().get("phase") == "Failed",
        "the TrainingRun's RayJob",
        timeout=90,
    )
    assert run_status().get("phase") != "Failed", run_status()
    job = rayjob()
    assert job is not None
    assert [o["kind"] for o in job["metadata"]["ownerReferences"]] == ["TrainingRun"]
    assert run_status().get("phase") in {"Pending", "Running"}, run_status()

    # 3. The worker and frontend as rendered serve model v1.
    worker = local_container(_template(kube_plane, ns, WORKER)["spec"], "worker", objects,
                             tmp_path / "worker-v1")  # fmt: skip
    frontend = local_container(_template(kube_plane, ns, FRONTEND)["spec"], "frontend", objects,
                               tmp_path / "frontend")  # fmt: skip
    worker_v1 = processes.start("worker-v1", worker)
    processes.ready(worker, "worker v1 ready", worker_v1)
    front = processes.start("frontend", frontend)
    processes.ready(frontend, "frontend ready", front)
    assert _predict(frontend)["model_version"] == v1.model_version

    # 4. A ModelRelease rolls v2 out: the operator (on the chart's token) applies the model
    # fields to the chart's worker Deployment and follows the rollout.
    release = {
        "apiVersion": "starcast.io/v1alpha1",
        "kind": "ModelRelease",
        "metadata": {"name": "v2", "namespace": ns},
        "spec": {
            "model": {"uri": v2_uri, "sha256": v2.model_sha256, "version": v2.model_version},
            "target": {"release": "serving"},
            "strategy": {"type": "Rolling"},
        },
    }
    kube_plane.kubectl("apply", "-f", "-", input=json.dumps(release))

    def release_phase() -> str | None:
        found = kube_plane.kubectl_json("get", "modelrelease", "v2", "-n", ns)
        phase: str | None = found.get("status", {}).get("phase")
        assert phase not in {"Failed", "RolledBack"}, found.get("status")
        return phase

    kube_wait_until(lambda: release_phase() == "Succeeded", "the ModelRelease", timeout=120)
    kube_plane.kubectl("rollout", "status", f"deployment/{WORKER}", "-n", ns, "--timeout=120s")
    assert _model_env(kube_plane, ns) == (v2_uri, v2.model_sha256, v2.model_version)

    # 5. `helm upgrade` with an unrelated change keeps the released model.
    kube_plane.helm(
        "upgrade", "serving", str(SERVING_CHART), "-n", ns, "--reuse-values",
        "--set", "worker.podAnnotations.walkthrough=upgraded", "--wait", "--timeout=180s",
    )  # fmt: skip
    kube_plane.kubectl("rollout", "status", f"deployment/{WORKER}", "-n", ns, "--timeout=120s")
    assert _template(kube_plane, ns, WORKER)["metadata"]["annotations"]["walkthrough"] == "upgraded"
    assert _model_env(kube_plane, ns) == (v2_uri, v2.model_sha256, v2.model_version)

    # The new pod template, run as the kubelet would run the new pods: it serves v2.
    worker = local_container(_template(kube_plane, ns, WORKER)["spec"], "worker", objects,
                             tmp_path / "worker-v2")  # fmt: skip
    worker_v2 = processes.start("worker-v2", worker)
    processes.ready(worker, "worker v2 ready", worker_v2)
    processes.stop(worker_v1)  # the rollout takes the old pod away
    kube_wait_until(lambda: _predict(frontend)["model_version"] == v2.model_version,
                    "predictions from the released model", timeout=60)  # fmt: skip
