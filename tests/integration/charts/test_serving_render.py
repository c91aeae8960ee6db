"""starcast-serving renders what it promises: helm lint --strict and helm template per scenario."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.charts import SERVING_CHART, find, kinds, pod_specs, render, scenarios
from tests.support.kube import KubePlane

pytestmark = pytest.mark.kube

SCENARIOS = scenarios(SERVING_CHART)
CONTRACT_LABELS = {
    "app.kubernetes.io/name": "starcast-serving",
    "app.kubernetes.io/instance": "test",
    "app.kubernetes.io/component": "worker",
}
SHA = "a" * 64


def test_there_is_a_scenario_for_each_feature() -> None:
    names = {path.name.removesuffix("-values.yaml") for path in SCENARIOS}
    assert {"default", "hpa", "keda", "keda-scale-to-zero", "external-broker",
            "ingress-off", "minimal"} <= names  # fmt: skip


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_lint_strict_passes(kube_plane: KubePlane, values: Path) -> None:
    result = kube_plane.helm("lint", "--strict", str(SERVING_CHART), "--values", str(values))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_every_pod_meets_the_restricted_profile(kube_plane: KubePlane, values: Path) -> None:
    objects = render(kube_plane, SERVING_CHART, "--values", str(values))
    for name, spec in pod_specs(objects):
        pod_context = spec["securityContext"]
        assert pod_context["runAsNonRoot"] is True, name
        assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name


def test_the_default_install_renders_the_whole_stack(kube_plane: KubePlane) -> None:
    objects = render(kube_plane, SERVING_CHART)
    assert kinds(objects) == [
        ("ConfigMap", "test-starcast-serving-config"),
        ("Deployment", "test-starcast-serving-frontend"),
        ("Deployment", "test-starcast-serving-worker"),
        ("Ingress", "test-starcast-serving-frontend"),
        ("NetworkPolicy", "test-starcast-serving-frontend"),
        ("NetworkPolicy", "test-starcast-serving-rabbitmq"),
        ("NetworkPolicy", "test-starcast-serving-worker"),
        ("Pod", "test-starcast-serving-test-prediction"),
        ("PodDisruptionBudget", "test-starcast-serving-frontend"),
        ("PodDisruptionBudget", "test-starcast-serving-worker"),
        ("Secret", "test-starcast-serving-broker"),
        ("Service", "test-starcast-serving-frontend"),
        ("Service", "test-starcast-serving-rabbitmq"),
        ("Service", "test-starcast-serving-rabbitmq-headless"),
        ("ServiceAccount", "test-starcast-serving-frontend"),
        ("ServiceAccount", "test-starcast-serving-rabbitmq"),
        ("ServiceAccount", "test-starcast-serving-worker"),
        ("StatefulSet", "test-starcast-serving-rabbitmq"),
    ]
    ingress = find(objects, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "traefik"
    frontend = find(objects, "Deployment", "test-starcast-serving-frontend")
    container = frontend["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    statefulset = find(objects, "StatefulSet")
    assert statefulset["spec"]["template"]["spec"]["containers"][0]["image"].startswith("rabbitmq:")
    claim = statefulset["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"


def test_the_worker_carries_the_model_and_the_labels_a_model_release_finds(
    kube_plane: KubePlane,
) -> None:
    objects = render(
        kube_plane, SERVING_CHART, "--set", "worker.model.uri=s3://models/v3",
        "--set", f"worker.model.sha256={SHA}", "--set", "worker.model.version=v3",
    )  # fmt: skip
    worker = find(objects, "Deployment", "test-starcast-serving-worker")
    assert CONTRACT_LABELS.items() <= worker["metadata"]["labels"].items()
    assert worker["spec"]["selector"]["matchLabels"] == CONTRACT_LABELS
    template = worker["spec"]["template"]
    assert template["metadata"]["labels"]["starcast.io/model-version"] == "v3"
    env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
    assert env["STARCAST_MODEL_URI"] == "s3://models/v3"
    assert env["STARCAST_MODEL_SHA256"] == SHA
    assert worker["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_without_a_model_the_worker_has_no_model_env_and_notes_say_what_to_do(
    kube_plane: KubePlane,
) -> None:
    objects = render(kube_plane, SERVING_CHART)
    worker = find(objects, "Deployment", "test-starcast-serving-worker")
    names = {e["name"] for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not names & {"STARCAST_MODEL_URI", "STARCAST_MODEL_SHA256"}
    notes = kube_plane.helm("install", "test", str(SERVING_CHART), "--dry-run=client").stdout
    assert "No model is set" in notes and "ModelRelease" in notes


def test_hpa_scenario_scales_the_workers_on_cpu_and_leaves_replicas_to_it(
    kube_plane: KubePlane,
) -> None:
    values = SERVING_CHART / "ci" / "hpa-values.yaml"
    objects = render(kube_plane, SERVING_CHART, "--values", str(values))
    hpa = find(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "test-starcast-serving-worker"
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 6)
    assert "replicas" not in find(objects, "Deployment", "test-starcast-serving-worker")["spec"]


def test_keda_scenario_scales_on_the_queue_with_credentials_from_the_secret(
    kube_plane: KubePlane,
) -> None:
    objects = render(
        kube_plane, SERVING_CHART, "--values", str(SERVING_CHART / "ci" / "keda-values.yaml")
    )
    scaled = find(objects, "ScaledObject")
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == "starcast.predict"
    assert trigger["metadata"]["mode"] == "QueueLength"
    assert "host" not in trigger["metadata"]  # the URL holds the password: only in the Secret
    auth = find(objects, "TriggerAuthentication")
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "host", "name": "test-starcast-serving-broker", "key": "url"}
    ]
    policy = find(objects, "NetworkPolicy", "test-starcast-serving-rabbitmq")
    peers = policy["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in peers
    assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]


def test_external_broker_renders_no_rabbitmq(kube_plane: KubePlane) -> None:
    values = SERVING_CHART / "ci" / "external-broker-values.yaml"
    objects = render(kube_plane, SERVING_CHART, "--values", str(values))
    assert not [o for o in objects if "rabbitmq" in o["metadata"]["name"]]
    secret = find(objects, "Secret", "test-starcast-serving-broker")
    assert set(secret["data"]) == {"url"}


def test_the_broker_password_is_in_the_secret_only(kube_plane: KubePlane) -> None:
    objects = render(kube_plane, SERVING_CHART)
    secret = find(objects, "Secret", "test-starcast-serving-broker")
    password = secret["data"]["password"]
    rendered = json.dumps([o for o in objects if o["kind"] != "Secret"])
    assert password not in rendered
    import base64

    plain = base64.b64decode(password).decode()
    assert len(plain) == 32 and plain not in rendered
    notes = kube_plane.helm("install", "test", str(SERVING_CHART), "--dry-run=client").stdout
    assert plain not in notes.split("MANIFEST:")[0] and plain not in notes.split("NOTES:")[-1]


def _selector(component: str) -> dict[str, Any]:
    return {"matchLabels": {"app.kubernetes.io/name": "starcast-serving",
                            "app.kubernetes.io/instance": "test",
                            "app.kubernetes.io/component": component}}  # fmt: skip


def test_network_policies_let_in_only_the_ingress_and_the_brokers_clients(
    kube_plane: KubePlane,
) -> None:
    objects = render(kube_plane, SERVING_CHART)
    policies = {o["metadata"]["name"].removeprefix("test-starcast-serving-"): o["spec"]
                for o in objects if o["kind"] == "NetworkPolicy"}  # fmt: skip
    namespace = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    kube_system = {"namespaceSelector": namespace}
    assert policies == {
        # The ingress controller's namespace (k3s's Traefik), and the `helm test` pod.
        "frontend": {
            "podSelector": _selector("frontend"),
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [kube_system, {"podSelector": _selector("test")}],
                         "ports": [{"port": "http", "protocol": "TCP"}]}],
        },
        "worker": {"podSelector": _selector("worker"), "policyTypes": ["Ingress"], "ingress": []},
        "rabbitmq": {
            "podSelector": _selector("rabbitmq"),
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": _selector("frontend")},
                                  {"podSelector": _selector("worker")}],
                         "ports": [{"port": "amqp", "protocol": "TCP"}]}],
        },
    }  # fmt: skip
    # The selectors select the pods they mean: the test pod carries the label the frontend admits.
    test_pod = find(objects, "Pod", "test-starcast-serving-test-prediction")
    assert _selector("test")["matchLabels"].items() <= test_pod["metadata"]["labels"].items()
    for component in ("frontend", "worker", "rabbitmq"):
        kind = "StatefulSet" if component == "rabbitmq" else "Deployment"
        labels = find(objects, kind, f"test-starcast-serving-{component}")["spec"]["template"]
        assert _selector(component)["matchLabels"].items() <= labels["metadata"]["labels"].items()
    # With an external broker there is no RabbitMQ to protect; with none at all, no policy.
    external = render(kube_plane, SERVING_CHART, "--values",
                      str(SERVING_CHART / "ci" / "external-broker-values.yaml"))  # fmt: skip
    assert [o["metadata"]["name"] for o in external if o["kind"] == "NetworkPolicy"] == [
        "test-starcast-serving-frontend", "test-starcast-serving-worker"]  # fmt: skip
    minimal = render(kube_plane, SERVING_CHART, "--values",
                     str(SERVING_CHART / "ci" / "minimal-values.yaml"))  # fmt: skip
    assert not [o for o in minimal if o["kind"] == "NetworkPolicy"]


def test_a_config_change_rolls_the_pods(kube_plane: KubePlane) -> None:
    def checksum(*args: str) -> str:
        worker = find(render(kube_plane, SERVING_CHART, *args), "Deployment",
                      "test-starcast-serving-worker")  # fmt: skip
        return str(worker["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum() == checksum()
    assert checksum() != checksum("--set", "queue.taskTimeLimitSeconds=45")

    def secrets_checksum(url: str) -> str:
        args = ("--set", "rabbitmq.enabled=false", "--set", f"externalBroker.url={url}")
        worker = find(render(kube_plane, SERVING_CHART, *args), "Deployment",
                      "test-starcast-serving-worker")  # fmt: skip
        return str(worker["spec"]["template"]["metadata"]["annotations"]["checksum/secrets"])

    # A new broker URL (its Secret is the chart's) rolls the pods too.
    assert secrets_checksum("amqp://a:b@mq-1:5672/") != secrets_checksum("amqp://a:b@mq-2:5672/")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "rabbitmq.enabled=false"], "set externalBroker.url or externalBroker"),
        (["--set", "worker.autoscaling.enabled=true"], "needs worker.resources.requests.cpu"),
        (["--set", "worker.autoscaling.enabled=true", "--set", "worker.keda.enabled=true",
          "--set", "worker.resources.requests.cpu=1"], "enable one of them"),
        (["--set", "worker.keda.enabled=true", "--set", "worker.keda.minReplicaCount=0"],
         "set frontend.readinessProbe.path=/healthz"),
        (["--set", "worker.model.uri=s3://models/m1"],
         "worker.model.uri is set without worker.model.sha256"),
    ],
)  # fmt: skip
def test_contradictory_values_fail_saying_what_to_change(
    kube_plane: KubePlane, args: list[str], message: str
) -> None:
    result = kube_plane.helm("template", "test", str(SERVING_CHART), *args, check=False)
    assert result.returncode != 0
    assert message in result.stderr
