"""The operator image's venv runs its entrypoint against the plane and answers its liveness probe.

The venv is installed as images/operator/Dockerfile installs it (the `operator` extra only); the
command is the image's ENTRYPOINT and CMD plus `--standalone`, as the chart passes with one
replica; the probe is the chart's (GET /healthz on the liveness port).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from starcast.up.processes import ManagedProcess, free_port, wait_until
from tests.integration.images.conftest import ImageVenv
from tests.support.charts import OPERATOR_CHART
from tests.support.dockerfile import container_command, runtime_environment
from tests.support.kube import KubePlane

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.slow]


def _alive(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


def test_operator_image_answers_its_liveness_probe(
    image_venv: ImageVenv, kube_plane: KubePlane, kube_namespace: str, tmp_path: Path
) -> None:
    kube_plane.kubectl("apply", "--server-side", "-f", str(OPERATOR_CHART / "crds"))
    dockerfile, venv = image_venv("operator")
    env = runtime_environment(dockerfile, venv, tmp_path / "home")
    liveness, metrics = free_port(), free_port()
    env.update(
        KUBECONFIG=str(kube_plane.kubeconfig),
        STARCAST_OPERATOR_NAMESPACES=json.dumps([kube_namespace]),
        STARCAST_OPERATOR_LIVENESS_HOST="127.0.0.1",
        STARCAST_OPERATOR_LIVENESS_PORT=str(liveness),
        STARCAST_OPERATOR_METRICS_HOST="127.0.0.1",
        STARCAST_OPERATOR_METRICS_PORT=str(metrics),
    )
    operator = ManagedProcess(
        "image-operator",
        [*container_command(dockerfile, venv), "--standalone"],
        env,
        tmp_path / "operator.log",
    )
    try:
        operator.start()
        wait_until(lambda: _alive(f"http://127.0.0.1:{liveness}/healthz"), "liveness",
                   [operator], timeout_s=120)  # fmt: skip
        assert _alive(f"http://127.0.0.1:{metrics}/metrics")
    finally:
        operator.stop(20)
