"""Charts from cluster.yaml, installed by `up` with helm into the cluster it just made."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.bootstrap.conftest import Cluster
from tests.support.kube import KubePlane

pytestmark = [pytest.mark.integration, pytest.mark.kube]
TINY_CHART = Path(__file__).parent / "testdata" / "tiny-chart"
OPERATOR_CHART = Path(__file__).resolve().parents[3] / "charts" / "starcast-operator"
SERVING_CHART = OPERATOR_CHART.parent / "starcast-serving"


@pytest.fixture
def namespace(kube_plane: KubePlane) -> Iterator[str]:
    name = f"bootstrap-{uuid.uuid4().hex[:6]}"
    yield name
    kube_plane.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")


def test_up_installs_the_charts_with_their_values_and_a_rerun_upgrades(
    live_cluster: Cluster, kube_plane: KubePlane, namespace: str
) -> None:
    chart = {
        "release": "tiny",
        "chart": str(TINY_CHART),
        "namespace": namespace,
        "values": {"greeting": "from cluster.yaml"},
    }
    live_cluster.write(charts=[chart])
    result = live_cluster.run("up")
    assert result.exit_code == 0, result.output
    assert f"installed  chart tiny in {namespace}" in result.output
    greeting = kube_plane.kubectl(
        "get", "configmap", "tiny-greeting", "-n", namespace, "-o", "jsonpath={.data.greeting}"
    ).stdout
    assert greeting == "from cluster.yaml"

    live_cluster.cloud.clear_requests()
    assert live_cluster.run("up").exit_code == 0
    assert live_cluster.cloud.mutations() == []
    history = kube_plane.helm("history", "tiny", "-n", namespace, "-o", "json").stdout
    assert '"revision":2' in history.replace(" ", "")


def test_a_chart_helm_cannot_install_fails_up_with_helms_reason(
    live_cluster: Cluster, kube_plane: KubePlane, namespace: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-chart"
    shutil.copytree(TINY_CHART, broken)
    (broken / "templates" / "configmap.yaml").write_text('{{ fail "values are wrong" }}\n')
    live_cluster.write(charts=[{"release": "broken", "chart": str(broken), "namespace": namespace}])
    result = live_cluster.run("up")
    assert result.exit_code == 1
    assert f"helm could not install broken from {broken} into namespace {namespace}" in (
        result.output
    )
    assert "values are wrong" in result.output  # helm's own reason


def test_a_chart_directory_that_does_not_exist_is_refused_before_the_cloud(
    cluster: Cluster,
) -> None:
    missing = str(TINY_CHART.parent / "no-such-chart")
    cluster.write(charts=[{"release": "missing", "chart": missing}])
    result = cluster.run("up")
    assert result.exit_code == 2
    assert f"charts.0.chart: chart directory {missing} does not exist" in result.output
    assert cluster.cloud.requests == []


def test_up_installs_the_operator_and_serving_charts_as_the_example_would(
    live_cluster: Cluster, kube_plane: KubePlane, namespace: str
) -> None:
    suffix = namespace.rsplit("-", 1)[1]
    operator, serving = f"op-{suffix}", f"sv-{suffix}"  # cluster-scoped RBAC is per release
    charts = [
        {"release": operator, "chart": str(OPERATOR_CHART), "namespace": namespace},
        # k3s brings a local-path provisioner; this plane has none, so RabbitMQ keeps no volume.
        {
            "release": serving,
            "chart": str(SERVING_CHART),
            "namespace": namespace,
            "values": {"rabbitmq": {"persistence": {"enabled": False}}},
        },
    ]
    live_cluster.write(charts=charts)
    try:
        result = live_cluster.run("up")
        assert result.exit_code == 0, result.output
        assert result.output.index(f"chart {operator} in") < result.output.index(
            f"chart {serving} in"
        )
        for release in (operator, serving):
            status = kube_plane.helm("status", release, "-n", namespace, "-o", "json").stdout
            assert '"status":"deployed"' in status.replace(" ", "")
        kube_plane.kubectl("get", "crd", "trainingruns.starcast.io", "modelreleases.starcast.io")
        workers = kube_plane.kubectl(
            "get", "deployment", "-n", namespace, "-l", "app.kubernetes.io/component=worker",
            "-o", "name",
        ).stdout  # fmt: skip
        assert workers.strip()
    finally:
        for release in (serving, operator):
            kube_plane.helm("uninstall", release, "-n", namespace, check=False)
