"""starcast-serving on the plane: admitted under Pod Security `restricted`, rolled out, wired.

The real API server validates and admits every object (a namespace labelled
pod-security.kubernetes.io/enforce=restricted refuses any pod that breaks the profile), the real
controllers roll the workloads out on kwok nodes, and the frontend and worker containers, as the
API server stored them, run as local processes against the tests' RabbitMQ and S3 server and
answer a prediction. The chart's `helm test` pod "succeeding" on a kwok node would prove nothing,
so no test counts it: its admission is asked of the API server, and its command is run locally
against the rendered frontend.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from starcast import artifact
from starcast.up.processes import ManagedProcess, free_port, wait_until
from tests.support.charts import (
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

pytestmark = [pytest.mark.kube, pytest.mark.integration]

RELEASE = "serving"
WORKER = f"{RELEASE}-starcast-serving-worker"
FRONTEND = f"{RELEASE}-starcast-serving-frontend"
RABBITMQ = f"{RELEASE}-starcast-serving-rabbitmq"
START_TIMEOUT_S = 120.0


@pytest.fixture
def rabbitmq_volume(kube_plane: KubePlane, kube_namespace: str, tmp_path: Path) -> Iterator[str]:
    """A PersistentVolume bound in advance to the RabbitMQ StatefulSet's claim (no provisioner
    runs on the plane)."""
    name = f"pv-{kube_namespace}"[:63]
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": "8Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": str(tmp_path / "rabbitmq-data")},
            "claimRef": {"namespace": kube_namespace, "name": f"data-{RABBITMQ}-0"},
        },
    }
    kube_plane.kubectl("apply", "-f", "-", input=json.dumps(volume))
    yield name
    kube_plane.kubectl("delete", "pv", name, "--wait=false", "--ignore-not-found")


def _rollout(kube_plane: KubePlane, namespace: str, *objects: str) -> None:
    for obj in objects:
        kube_plane.kubectl("rollout", "status", obj, "-n", namespace, "--timeout=120s")


def test_the_default_install_is_admitted_and_rolls_out_under_restricted(
    kube_plane: KubePlane, kube_namespace: str, rabbitmq_volume: str
) -> None:
    ns = kube_namespace
    restrict_namespace(kube_plane, ns)
    result = kube_plane.helm(
        "install", RELEASE, str(SERVING_CHART), "-n", ns, "--wait", "--timeout=180s"
    )
    assert "No model is set" in result.stdout
    _rollout(kube_plane, ns, f"deployment/{FRONTEND}", f"deployment/{WORKER}",
             f"statefulset/{RABBITMQ}")  # fmt: skip
    claim = kube_plane.kubectl_json("get", "pvc", f"data-{RABBITMQ}-0", "-n", ns)
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["volumeName"] == rabbitmq_volume
    pods = kube_plane.kubectl_json("get", "pods", "-n", ns)["items"]
    assert len(pods) == 5  # 2 frontends, 2 workers, 1 RabbitMQ
    for kind in ("networkpolicy", "poddisruptionbudget", "ingress"):
        assert kube_plane.kubectl("get", kind, "-n", ns, "-o", "name").stdout.strip(), kind
    # The `helm test` pod is admitted under `restricted` too (created only by `helm test`, so
    # asked of the API server as a server-side dry run: admission runs, nothing is stored).
    test_pod = _test_pod(kube_plane, ns)
    created = kube_plane.kubectl("create", "--dry-run=server", "-o", "name", "-f", "-",
                                 input=json.dumps(test_pod))  # fmt: skip
    assert created.stdout.strip() == f"pod/{test_pod['metadata']['name']}"


def test_a_pod_that_breaks_the_profile_is_refused(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    ns = kube_namespace
    restrict_namespace(kube_plane, ns)
    kube_plane.helm(
        "install", RELEASE, str(SERVING_CHART), "-n", ns, "--values",
        str(SERVING_CHART / "ci" / "minimal-values.yaml"),
        "--set", "containerSecurityContext.allowPrivilegeEscalation=true",
    )  # fmt: skip

    def refused() -> bool:
        events = kube_plane.kubectl("get", "events", "-n", ns, "-o", "json").stdout
        return "violates PodSecurity" in events and "allowPrivilegeEscalation" in events

    kube_wait_until(refused, "the ReplicaSet's FailedCreate for PodSecurity", timeout=60)
    worker = kube_plane.kubectl_json("get", "deployment", WORKER, "-n", ns)
    assert worker["status"].get("readyReplicas", 0) == 0


def _test_pod(kube_plane: KubePlane, namespace: str) -> dict[str, Any]:
    """The release's `helm test` pod, as Helm stored it."""
    hooks = kube_plane.helm("get", "hooks", RELEASE, "-n", namespace).stdout
    (pod,) = (doc for doc in yaml.safe_load_all(hooks) if doc and doc["kind"] == "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    return dict(pod)


def _start(container: LocalContainer, name: str, log_dir: Path) -> ManagedProcess:
    process = ManagedProcess(name, container.argv, container.env, log_dir / f"{name}.log")
    process.start()
    return process


def test_the_rendered_frontend_and_worker_answer_a_prediction(
    kube_plane: KubePlane,
    kube_namespace: str,
    broker_url: str,
    s3_bucket: str,
    s3_endpoint: str,
    tmp_path: Path,
) -> None:
    ns = kube_namespace
    restrict_namespace(kube_plane, ns)
    model_bytes, manifest = fitted_model()
    model_uri = f"s3://{s3_bucket}/models/{manifest.model_version}"
    artifact.write_artifact(model_uri, model_bytes, manifest)
    port = free_port()
    kube_plane.helm(
        "install", RELEASE, str(SERVING_CHART), "-n", ns, "--wait", "--timeout=180s",
        "--set", "rabbitmq.enabled=false", "--set", f"externalBroker.url={broker_url}",
        "--set", f"queue.name=starcast.chart-test.{uuid.uuid4().hex[:8]}",
        "--set", f"storage.s3.endpointUrl={s3_endpoint}", "--set", f"storage.s3.region={REGION}",
        "--set", "storage.s3.accessKeyId=starcast-test",
        "--set", "storage.s3.secretAccessKey=starcast-test-secret",
        "--set", f"worker.model.uri={model_uri}",
        "--set", f"worker.model.sha256={manifest.model_sha256}",
        "--set", f"worker.model.version={manifest.model_version}",
        "--set", f"frontend.containerPort={port}",
    )  # fmt: skip
    objects = ClusterObjects(kube_plane, ns)
    specs = {
        name: kube_plane.kubectl_json("get", "deployment", name, "-n", ns)["spec"]["template"]
        for name in (WORKER, FRONTEND)
    }
    worker = local_container(specs[WORKER]["spec"], "worker", objects, tmp_path / "worker")
    frontend = local_container(specs[FRONTEND]["spec"], "frontend", objects, tmp_path / "frontend")
    # What the chart wired, not what the test set: the Secret's URL, the ConfigMap's queue.
    assert worker.env["STARCAST_BROKER_URL"] == frontend.env["STARCAST_BROKER_URL"] == broker_url
    assert worker.env["STARCAST_QUEUE"] == frontend.env["STARCAST_QUEUE"]
    assert worker.env["AWS_ACCESS_KEY_ID"] == "starcast-test"
    processes: list[ManagedProcess] = []
    try:
        processes.append(_start(worker, "chart-worker", tmp_path))
        wait_until(worker.probe, "the worker's readiness probe", processes,
                   timeout_s=START_TIMEOUT_S)  # fmt: skip
        processes.append(_start(frontend, "chart-frontend", tmp_path))
        wait_until(frontend.probe, "the frontend's readiness probe (/readyz)", processes,
                   timeout_s=START_TIMEOUT_S)  # fmt: skip
        answer = httpx.post(
            f"http://127.0.0.1:{frontend.port('http')}/api/v1/predict",
            json={"repositories": [{"full_name": "chart/test", "features": {"forks": 12}}]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        prediction = answer.json()["predictions"][0]
        assert prediction["model_version"] == manifest.model_version
        assert prediction["predicted_stars"] >= 0
        labels = specs[WORKER]["metadata"]["labels"]
        assert labels["starcast.io/model-version"] == manifest.model_version

        # The `helm test` pod's own command, run against this frontend instead of the
        # Service's DNS name (the one thing of it that can't be the same here).
        test_pod = _test_pod(kube_plane, ns)
        tester = local_container(test_pod["spec"], "predict", objects, tmp_path / "test-pod")
        service_url = tester.argv[-1]
        assert service_url == f"http://{FRONTEND}:80/api/v1/predict"
        local_url = f"http://127.0.0.1:{frontend.port('http')}/api/v1/predict"
        checked = subprocess.run(
            [*tester.argv[:-1], local_url], env=tester.env, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert f"with model {manifest.model_version}" in checked.stdout, checked.stdout
    finally:
        for process in reversed(processes):
            process.stop(30)
