"""A model a ModelRelease set survives `helm upgrade`; without one, the chart's values set it.

The ModelRelease's change is the operator's own: the apply body `model_apply` builds, sent by the
operator's `ReleaseCluster.apply_deployment` (server-side apply, field manager
starcast-operator), without the rest of a ModelRelease's reconcile. Helm 3 upgrades by a
three-way merge against the live object, so the chart must render that live model back rather
than its values' one.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from kubernetes import client, config

from starcast.operator.models.modelrelease import ModelVersion, RollingStrategy
from starcast.operator.release.kube import ReleaseCluster
from starcast.operator.release.workers import model_apply
from tests.support.charts import SERVING_CHART
from tests.support.kube import KubePlane

pytestmark = pytest.mark.kube

RELEASE = "serving"
WORKER = f"{RELEASE}-starcast-serving-worker"
V1 = {"uri": "s3://models/v1", "sha256": "1" * 64, "version": "v1"}
V2 = {"uri": "s3://models/v2", "sha256": "2" * 64, "version": "v2"}
MODEL_ENV = {"uri": "STARCAST_MODEL_URI", "sha256": "STARCAST_MODEL_SHA256"}


def _install(kube_plane: KubePlane, ns: str, *args: str) -> None:
    kube_plane.helm(
        "install", RELEASE, str(SERVING_CHART), "-n", ns, "--wait", "--timeout=120s",
        "--set", "rabbitmq.persistence.enabled=false",
        "--set", f"worker.model.uri={V1['uri']}", "--set", f"worker.model.sha256={V1['sha256']}",
        "--set", f"worker.model.version={V1['version']}", *args,
    )  # fmt: skip


def _release_model(kube_plane: KubePlane, ns: str, model: dict[str, str]) -> None:
    """What a ModelRelease does to the worker Deployment, by the operator's own code."""
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kube_plane.kubeconfig), client_configuration=configuration
    )
    with client.ApiClient(configuration) as api:
        cluster = ReleaseCluster(api)
        deployment = cluster.get_deployment(ns, WORKER)
        assert deployment is not None, f"the chart made no Deployment {WORKER}"
        body = model_apply(deployment, ModelVersion(**model), "upgrade-test", RollingStrategy())
        cluster.apply_deployment(body)


def _worker(kube_plane: KubePlane, ns: str) -> dict[str, Any]:
    return kube_plane.kubectl_json("get", "deployment", WORKER, "-n", ns, "--show-managed-fields")


def _model(deployment: dict[str, Any]) -> dict[str, str]:
    template = deployment["spec"]["template"]
    env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
    return {
        "uri": env.get(MODEL_ENV["uri"]),
        "sha256": env.get(MODEL_ENV["sha256"]),
        "version": template["metadata"]["labels"].get("starcast.io/model-version"),
    }


def _broker_secret(kube_plane: KubePlane, ns: str) -> dict[str, str]:
    secret = kube_plane.kubectl_json(
        "get", "secret", f"{RELEASE}-starcast-serving-broker", "-n", ns
    )
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def _operator_owns_the_model(deployment: dict[str, Any]) -> bool:
    for entry in deployment["metadata"]["managedFields"]:
        if entry["manager"] == "starcast-operator":
            fields = json.dumps(entry["fieldsV1"])
            return all(f'k:{{\\"name\\":\\"{name}\\"}}' in fields for name in MODEL_ENV.values())
    return False


def test_an_unrelated_upgrade_keeps_the_released_model(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    ns = kube_namespace
    _install(kube_plane, ns)
    assert _model(_worker(kube_plane, ns)) == V1
    _release_model(kube_plane, ns, V2)
    before = _worker(kube_plane, ns)
    assert _model(before) == V2
    broker = _broker_secret(kube_plane, ns)

    # Unrelated changes, one of which (a config value) changes the worker's pod template too.
    kube_plane.helm(
        "upgrade", RELEASE, str(SERVING_CHART), "-n", ns, "--reuse-values", "--wait",
        "--set", "frontend.replicaCount=3", "--set", "queue.taskTimeLimitSeconds=45",
    )  # fmt: skip

    after = _worker(kube_plane, ns)
    assert _model(after) == V2
    assert _operator_owns_the_model(after)
    annotations = "checksum/config"
    assert (
        after["spec"]["template"]["metadata"]["annotations"][annotations]
        != before["spec"]["template"]["metadata"]["annotations"][annotations]
    ), "the upgrade did not touch the worker's pod template; the test would prove nothing"
    frontend = kube_plane.kubectl_json("get", "deployment", f"{RELEASE}-starcast-serving-frontend",
                                       "-n", ns)  # fmt: skip
    assert frontend["spec"]["replicas"] == 3
    kube_plane.kubectl("rollout", "status", f"deployment/{WORKER}", "-n", ns, "--timeout=120s")
    pods = kube_plane.kubectl_json(
        "get", "pods", "-n", ns, "-l", "app.kubernetes.io/component=worker"
    )["items"]
    assert {p["metadata"]["labels"]["starcast.io/model-version"] for p in pods} == {"v2"}
    notes = kube_plane.helm("get", "notes", RELEASE, "-n", ns).stdout
    assert "s3://models/v2" in notes and "set by a ModelRelease" in notes
    # The generated broker password outlives the upgrade (RabbitMQ made its user with it once).
    assert _broker_secret(kube_plane, ns) == broker
    assert f":{broker['password']}@" in broker["url"] and len(broker["password"]) == 32


def test_without_a_model_release_the_values_set_the_model(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    ns = kube_namespace
    _install(kube_plane, ns)
    kube_plane.helm(
        "upgrade", RELEASE, str(SERVING_CHART), "-n", ns, "--reuse-values", "--wait",
        "--set", f"worker.model.uri={V2['uri']}", "--set", f"worker.model.sha256={V2['sha256']}",
        "--set", f"worker.model.version={V2['version']}",
    )  # fmt: skip
    assert _model(_worker(kube_plane, ns)) == V2
