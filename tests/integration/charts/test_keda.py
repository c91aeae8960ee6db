"""The chart's ScaledObject and TriggerAuthentication against KEDA's real CRDs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.charts import SERVING_CHART, find, render
from tests.support.keda import keda_crd_files
from tests.support.kube import KubePlane

pytestmark = pytest.mark.kube


@pytest.fixture(scope="module")
def keda_crds(kube_plane: KubePlane) -> Iterator[None]:
    args = [arg for path in keda_crd_files() for arg in ("-f", str(path))]
    # The CRDs are too large for client-side apply's last-applied annotation.
    kube_plane.kubectl("apply", "--server-side", *args)
    for name in ("scaledobjects.keda.sh", "triggerauthentications.keda.sh"):
        kube_plane.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
    yield
    kube_plane.kubectl("delete", "--ignore-not-found", "--wait=false", *args)


@pytest.mark.parametrize("scenario", ["keda-values.yaml", "keda-scale-to-zero-values.yaml"])
def test_the_keda_scenarios_install_and_validate(
    kube_plane: KubePlane, kube_namespace: str, keda_crds: None, scenario: str
) -> None:
    ns = kube_namespace
    kube_plane.helm(
        "install", "serving", str(SERVING_CHART), "-n", ns,
        "--values", str(SERVING_CHART / "ci" / scenario),
        "--set", "rabbitmq.persistence.enabled=false",
    )  # fmt: skip
    scaled = kube_plane.kubectl_json("get", "scaledobject", "serving-starcast-serving-worker",
                                     "-n", ns)  # fmt: skip
    expected = 0 if "zero" in scenario else 1
    assert scaled["spec"]["minReplicaCount"] == expected
    assert scaled["spec"]["triggers"][0]["authenticationRef"]["name"] == (
        "serving-starcast-serving-worker-broker"
    )
    auth = kube_plane.kubectl_json(
        "get", "triggerauthentication", "serving-starcast-serving-worker-broker", "-n", ns
    )
    assert auth["spec"]["secretTargetRef"][0]["parameter"] == "host"


def test_keda_refuses_a_scaled_object_that_breaks_its_schema(
    kube_plane: KubePlane, kube_namespace: str, keda_crds: None
) -> None:
    values = SERVING_CHART / "ci" / "keda-values.yaml"
    objects = render(kube_plane, SERVING_CHART, "--values", str(values), namespace=kube_namespace)
    scaled = find(objects, "ScaledObject")
    scaled["spec"]["minReplicaCount"] = "one"
    del scaled["spec"]["scaleTargetRef"]["name"]
    result = kube_plane.kubectl("apply", "-f", "-", input=json.dumps(scaled), check=False)
    assert result.returncode != 0
    assert "spec.minReplicaCount" in result.stderr
    assert "spec.scaleTargetRef.name" in result.stderr
