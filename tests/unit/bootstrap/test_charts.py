"""The helm command a chart in cluster.yaml becomes."""

from pathlib import Path

from starcast.bootstrap.charts import helm_command
from starcast.bootstrap.config import Chart


def test_upgrade_install_with_the_cluster_kubeconfig(tmp_path: Path) -> None:
    chart_dir = tmp_path / "starcast-serving"
    chart_dir.mkdir()  # a local chart must exist to be accepted
    chart = Chart(
        release="serving",
        chart=str(chart_dir),
        namespace="starcast",
        version="0.1.0",
        values={"workers": 3},
    )
    argv = helm_command("helm", chart, Path("/state/kubeconfig"), "demo", Path("/tmp/v.yaml"), 600)
    assert argv == [
        "helm",
        "upgrade",
        "--install",
        "serving",
        str(chart_dir),
        "--namespace",
        "starcast",
        "--create-namespace",
        "--kubeconfig",
        "/state/kubeconfig",
        "--kube-context",
        "demo",
        "--wait",
        "--timeout",
        "600s",
        "--version",
        "0.1.0",
        "--values",
        "/tmp/v.yaml",
    ]
