"""Each chart's NOTES print where to go (the URL) and what to run next, and never a credential."""

from __future__ import annotations

import pytest

from tests.support.charts import OPERATOR_CHART, SERVING_CHART, notes
from tests.support.kube import KubePlane

pytestmark = pytest.mark.kube

FRONTEND = "test-starcast-serving-frontend"


@pytest.mark.parametrize(
    ("args", "lines"),
    [
        ([], [f"kubectl get ingress {FRONTEND} --namespace starcast",
              "then open http://ADDRESS/predictions"]),
        (["--values", str(SERVING_CHART / "ci" / "ingress-tls-values.yaml")],
         ["https://stars.example.com/predictions"]),
        (["--set", "frontend.ingress.host=stars.local", "--set", "frontend.ingress.path=/stars/"],
         ["http://stars.local/stars/predictions"]),
        (["--values", str(SERVING_CHART / "ci" / "ingress-off-values.yaml")],
         [f"kubectl port-forward --namespace starcast service/{FRONTEND} 8080:80",
          "then open http://127.0.0.1:8080/predictions"]),
    ],
    ids=["ingress-any-host", "ingress-tls-host", "ingress-host-path", "ingress-off"],
)  # fmt: skip
def test_serving_notes_give_the_prediction_url_and_the_next_command(
    kube_plane: KubePlane, args: list[str], lines: list[str]
) -> None:
    text = notes(kube_plane, SERVING_CHART, *args)
    for line in [*lines, "POST /api/v1/predict", "helm test test --namespace starcast"]:
        assert line in text, text


def test_serving_notes_name_the_secrets_never_their_contents(kube_plane: KubePlane) -> None:
    broker_password, s3_secret = "broker-pw-3f9a1c", "s3-secret-8d2e7b"
    text = notes(
        kube_plane, SERVING_CHART, "--set", "rabbitmq.enabled=false",
        "--set", f"externalBroker.url=amqp://starcast:{broker_password}@mq.example:5672/%2F",
        "--set", "storage.s3.accessKeyId=AKIATEST",
        "--set", f"storage.s3.secretAccessKey={s3_secret}",
    )  # fmt: skip
    assert "Secret test-starcast-serving-broker" in text
    for secret in (broker_password, s3_secret, "AKIATEST", "amqp://"):
        assert secret not in text


@pytest.mark.parametrize(
    ("args", "lines"),
    [
        ([], ["It watches the namespaces starcast.",
              "kubectl port-forward --namespace starcast service/test-starcast-operator-metrics "
              "9090",
              "then open http://127.0.0.1:9090/metrics"]),
        # (No ServiceMonitor: a dry run needs its CRD, and the plane has no Prometheus Operator.)
        (["--values", str(OPERATOR_CHART / "ci" / "cluster-wide-values.yaml"),
          "--set", "metrics.serviceMonitor.enabled=false"],
         ["It watches every namespace, 2 replica(s) peered through starcast-operator."]),
    ],
    ids=["default", "cluster-wide"],
)  # fmt: skip
def test_operator_notes_give_the_metrics_url_and_the_next_commands(
    kube_plane: KubePlane, operator_crds: None, args: list[str], lines: list[str]
) -> None:
    # operator_crds: a dry run maps every object to a served kind (KopfPeering's CRD included).
    text = notes(kube_plane, OPERATOR_CHART, *args)
    for line in [
        *lines,
        "kubectl rollout status deployment/test-starcast-operator --namespace starcast",
        "kubectl apply --namespace starcast -f examples/trainingrun.yaml",
        "helm install serving charts/starcast-serving --namespace starcast",
    ]:
        assert line in text, text
