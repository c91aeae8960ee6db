"""The helm command a chart in cluster.yaml becomes."""

from pathlib import Path

from starcast.bootstrap.charts import helm_command
from starcast.bootstrap.config import Chart


def test_upgrade_install_with_the_cluster_kubeconfig() -> None:
    chart = Chart(
        release="serving",
        chart="/charts/starcast-serving",
        namespace="starcast",
        version="0.1.0",
        values={"workers": 3},
    )
    argv = helm_command("helm", chart, Path("/state/kubeconfig"), Path("/tmp/v.yaml"), 600)
    assert argv == [
        "helm",
        "upgrade",
        "--install",
        "serving",
        "/charts/starcast-serving",
        "--namespace",
        "starcast",
        "--create-namespace",
        "--kubeconfig",
        "/state/kubeconfig",
        "--wait",
        "--timeout",
        "600s",
        "--version",
        "0.1.0",
        "--values",
        "/tmp/v.yaml",
    ]
