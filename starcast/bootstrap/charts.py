"""Install the charts cluster.yaml asks for, with the helm binary, once every node is Ready.

`helm upgrade --install` makes a re-run an upgrade to the same values, not an error; `--wait`
makes a chart whose pods never come up fail `up` instead of passing silently.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from starcast.bootstrap.cloud import CloudError
from starcast.bootstrap.config import Chart
from starcast.bootstrap.progress import Progress


def helm_command(
    helm: str,
    chart: Chart,
    kubeconfig: Path,
    context: str,
    values_file: Path | None,
    timeout: float,
) -> list[str]:
    argv = [
        helm,
        "upgrade",
        "--install",
        chart.release,
        chart.chart,
        "--namespace",
        chart.namespace,
        "--create-namespace",
        "--kubeconfig",
        str(kubeconfig),
        "--kube-context",
        context,
        "--wait",
        "--timeout",
        f"{int(timeout)}s",
    ]
    if chart.version is not None:
        argv += ["--version", chart.version]
    if values_file is not None:
        argv += ["--values", str(values_file)]
    return argv


def install_charts(
    charts: Sequence[Chart], kubeconfig: Path, context: str, timeout: float, progress: Progress
) -> None:
    if not charts:
        return
    helm = shutil.which("helm")
    if helm is None:
        raise CloudError(
            "cluster.yaml lists charts but `helm` is not on PATH: install Helm 3 "
            "(https://helm.sh/docs/intro/install/) and run `up` again"
        )
    for chart in charts:
        with tempfile.TemporaryDirectory(prefix="starcast-values-") as scratch:
            values_file = None
            if chart.values:
                values_file = Path(scratch) / "values.yaml"  # the dir is 0700: values may be secret
                values_file.write_text(yaml.safe_dump(chart.values))
            argv = helm_command(helm, chart, kubeconfig, context, values_file, timeout)
            with progress.waiting(f"chart {chart.release} ({chart.chart})", timeout):
                try:
                    result = subprocess.run(
                        argv, capture_output=True, text=True, timeout=timeout + 30, check=False
                    )
                except subprocess.TimeoutExpired:
                    raise CloudError(f"helm did not finish installing {chart.release}") from None
            if result.returncode != 0:
                raise CloudError(
                    f"helm could not install {chart.release} from {chart.chart} into namespace "
                    f"{chart.namespace}:\n{result.stderr.strip()}"
                )
            progress.resource("installed", "chart", f"{chart.release} in {chart.namespace}")
