"""The serving user story on a real node: `helm install`, `helm test`, and the Ingress URL.

Both charts are installed as a user would, with their default images (built from
images/*/Dockerfile by hack/images.sh), into namespaces where Pod Security `restricted` is
enforced. Every pod is Running and Ready by its own probes on the real node; the prediction
goes through Traefik, the frontend, RabbitMQ and a worker that loaded the model from S3.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.support.kube import REPO_ROOT
from tests.support.models import ModelArtifact, build_model_artifact
from tests.support.real_node import RealCluster

pytestmark = [pytest.mark.kube, pytest.mark.slow]

SERVING_CHART: Final = REPO_ROOT / "charts" / "starcast-serving"
OPERATOR_CHART: Final = REPO_ROOT / "charts" / "starcast-operator"
VALUES: Final = Path(__file__).parent / "values"
RESTRICTED: Final = "pod-security.kubernetes.io/enforce=restricted"
READY_TIMEOUT: Final = "300s"
S3_KEY: Final = "e2e"  # moto takes any credentials; the chart's Secret carries these


@dataclass(frozen=True)
class Serving:
    cluster: RealCluster
    namespace: str
    release: str
    model: ModelArtifact

    def kubectl(self, *args: str, check: bool = True) -> str:
        return self.cluster.plane.kubectl("-n", self.namespace, *args, check=check).stdout


def _restricted_namespace(cluster: RealCluster, name: str) -> None:
    cluster.plane.kubectl("create", "namespace", name)
    cluster.plane.kubectl("label", "namespace", name, RESTRICTED)


@pytest.fixture(scope="module")
def node_s3(real_cluster: RealCluster) -> Iterator[str]:
    """An S3 server (moto) on the machine's own address, where the real pods reach it."""
    server = ThreadedMotoServer(ip_address=real_cluster.node_ip, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_model(node_s3: str, tmp_path_factory: pytest.TempPathFactory) -> ModelArtifact:
    """A small model committed to a bucket of that server, as a training run leaves one."""
    local = build_model_artifact(tmp_path_factory.mktemp("model"))
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=node_s3,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_KEY,
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=bucket)
    # The manifest last: it is the artifact's commit marker.
    files = sorted(local.path.iterdir(), key=lambda path: path.name == "manifest.json")
    for file in files:
        s3.upload_file(str(file), bucket, f"{local.version}/{file.name}")
    return ModelArtifact(
        uri=f"s3://{bucket}/{local.version}",
        sha256=local.sha256,
        version=local.version,
        path=local.path,
    )


@pytest.fixture(scope="module")
def serving(real_cluster: RealCluster, node_s3: str, s3_model: ModelArtifact) -> Serving:
    namespace = f"serving-{uuid.uuid4().hex[:6]}"
    _restricted_namespace(real_cluster, namespace)
    rabbitmq_repo, _, rabbitmq_tag = real_cluster.images["rabbitmq"].rpartition(":")
    release = "serving"
    real_cluster.plane.helm(
        "install",
        release,
        str(SERVING_CHART),
        "--namespace",
        namespace,
        "--values",
        str(VALUES / "serving.yaml"),
        "--set",
        f"rabbitmq.image.repository={rabbitmq_repo}",
        "--set",
        f"rabbitmq.image.tag={rabbitmq_tag}",
        "--set",
        f"worker.model.uri={s3_model.uri}",
        "--set",
        f"worker.model.sha256={s3_model.sha256}",
        "--set",
        f"worker.model.version={s3_model.version}",
        "--set",
        f"storage.s3.endpointUrl={node_s3}",
        "--set",
        "storage.s3.region=us-east-1",
        "--set",
        f"storage.s3.accessKeyId={S3_KEY}",
        "--set",
        f"storage.s3.secretAccessKey={S3_KEY}",
    )
    stack = Serving(real_cluster, namespace, release, s3_model)
    for workload in (
        f"statefulset/{release}-starcast-serving-rabbitmq",
        f"deployment/{release}-starcast-serving-worker",
        f"deployment/{release}-starcast-serving-frontend",
    ):
        stack.kubectl("rollout", "status", workload, f"--timeout={READY_TIMEOUT}")
    return stack


def _pods(stack: Serving) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(stack.kubectl("get", "pods", "-o", "json"))["items"]
    return items


def _ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_every_pod_runs_on_the_real_node_ready_by_its_probes(serving: Serving) -> None:
    pods = _pods(serving)
    components = sorted(p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods)
    assert components == ["frontend", "frontend", "rabbitmq", "worker", "worker"]
    for pod in pods:
        assert pod["spec"]["nodeName"] == serving.cluster.node, pod["metadata"]["name"]
        assert pod["status"]["phase"] == "Running" and _ready(pod), pod["status"]
        # A real pod: an address from the node's CNI bridge and containers that started.
        assert pod["status"]["podIP"].startswith("10.244.255."), pod["status"]
        for container in pod["status"]["containerStatuses"]:
            assert container["started"] and container["imageID"], container


def test_helm_test_posts_a_prediction_through_the_frontend_service(serving: Serving) -> None:
    result = serving.cluster.plane.helm(
        "test", serving.release, "--namespace", serving.namespace, "--logs", "--timeout", "180s"
    )
    assert "Phase:          Succeeded" in result.stdout, result.stdout
    assert f"with model {serving.model.version}" in result.stdout, result.stdout


def test_the_ingress_address_serves_the_pages_and_the_api(serving: Serving) -> None:
    ingress = json.loads(serving.kubectl("get", "ingress", "-o", "json"))["items"][0]
    address = ingress["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert address == serving.cluster.ingress_ip
    with httpx.Client(base_url=f"http://{address}", timeout=30) as client:
        page = client.get("/predictions")
        assert page.status_code == 200, page.text
        assert "text/html" in page.headers["content-type"]
        answer = client.post(
            "/api/v1/predict",
            json={"repositories": [{"full_name": "octo/widget", "features": {"topics": 4}}]},
        )
    assert answer.status_code == 200, answer.text
    prediction = answer.json()["predictions"][0]
    assert prediction["model_version"] == serving.model.version
    assert prediction["predicted_stars"] >= 0
    print(f"ingress {address}: POST /api/v1/predict -> {answer.status_code} {answer.text}")


def test_the_operator_runs_as_its_in_cluster_pod(real_cluster: RealCluster) -> None:
    namespace = f"operator-{uuid.uuid4().hex[:6]}"
    _restricted_namespace(real_cluster, namespace)
    real_cluster.plane.helm(
        "install",
        "starcast-operator",
        str(OPERATOR_CHART),
        "--namespace",
        namespace,
        "--values",
        str(VALUES / "operator.yaml"),
    )
    plane = real_cluster.plane
    plane.kubectl("-n", namespace, "rollout", "status", "deployment", "--timeout", READY_TIMEOUT)
    pods = json.loads(plane.kubectl("-n", namespace, "get", "pods", "-o", "json").stdout)
    (pod,) = pods["items"]
    assert pod["spec"]["nodeName"] == real_cluster.node and _ready(pod)
    # It reached the API server through the kubernetes Service: its log says it watches.
    logs = plane.kubectl("-n", namespace, "logs", pod["metadata"]["name"]).stdout
    assert logs.strip(), "the operator pod logged nothing"
