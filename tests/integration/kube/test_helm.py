"""helm installs and uninstalls a chart on the plane; templates see the server's version."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.kube import KubePlane

pytestmark = pytest.mark.kube

CHART = Path(__file__).parent / "testdata" / "smoke-chart"


def test_helm_install_then_uninstall_removes_the_release(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    ns = kube_namespace
    kube_plane.helm(
        "install", "smoke", str(CHART), "--namespace", ns,
        "--set", "message=installed by a test", "--wait", "--timeout=120s",
    )  # fmt: skip

    status = kube_plane.helm("status", "smoke", "--namespace", ns, "--output=json")
    assert '"status":"deployed"' in status.stdout.replace(" ", "")
    config = kube_plane.kubectl_json("get", "configmap", "smoke-config", "-n", ns)
    assert config["data"] == {
        "message": "installed by a test",
        # .Capabilities comes from the API server's discovery: the real, stamped version.
        "kubeVersion": kube_plane.versions["KUBE_VERSION"],
    }
    deployment = kube_plane.kubectl_json("get", "deployment", "smoke", "-n", ns)
    assert deployment["status"]["readyReplicas"] == 2

    kube_plane.helm("uninstall", "smoke", "--namespace", ns, "--wait", "--timeout=120s")

    assert kube_plane.helm("list", "--namespace", ns, "--all", "--short").stdout.strip() == ""
    left = kube_plane.kubectl(
        "get", "deployment,configmap", "-n", ns, "-l", "app.kubernetes.io/instance=smoke",
        "--output=name",
    )  # fmt: skip
    assert left.stdout.strip() == ""


def test_a_chart_whose_kube_version_excludes_the_server_is_refused(
    kube_plane: KubePlane, kube_namespace: str, tmp_path: Path
) -> None:
    chart = tmp_path / "too-new"
    chart.mkdir()
    (chart / "Chart.yaml").write_text(
        'apiVersion: v2\nname: too-new\nversion: 0.1.0\nkubeVersion: ">=9.0.0-0"\n'
    )
    result = kube_plane.helm("install", "too-new", str(chart), "-n", kube_namespace, check=False)
    assert result.returncode != 0
    assert "is incompatible with Kubernetes " + kube_plane.versions["KUBE_VERSION"] in result.stderr
