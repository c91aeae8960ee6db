"""`examples/modelrelease.yaml` works as written: the API server takes it, its canary starts at
20% beside the test workers, `kubectl get modelreleases` shows the documented columns, and the
documented abort command ends it. (Its Prometheus is the cluster's, absent here: the analysis
is retried, not counted as failed, for analysis.unreachableTimeoutSeconds;
tests/integration/release/test_analysis.py runs one.)"""

from __future__ import annotations

import pytest

from tests.support.kube import REPO_ROOT, KubePlane, wait_until
from tests.support.operator_process import OperatorProcess
from tests.support.release import CANARY, WORKERS, deployment, model_env, status

pytestmark = [pytest.mark.integration, pytest.mark.kube]

EXAMPLE = REPO_ROOT / "examples" / "modelrelease.yaml"
NAME = "model-2026-12-01"


def test_the_example_release_runs_as_written(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess
) -> None:
    kube_plane.kubectl("apply", "-n", workers, "-f", str(EXAMPLE))

    def measuring() -> bool:
        current = status(kube_plane, workers, NAME)
        return current.get("weight") == 20 and current.get("reason") == "PrometheusUnreachable"

    wait_until(measuring, "the example's canary at 20%, asking its Prometheus", 90)
    canary = deployment(kube_plane, workers, CANARY)
    assert canary["spec"]["replicas"] == 1  # "1 canary pod beside 4 stable ones"
    assert model_env(canary)["STARCAST_MODEL_URI"] == "s3://starcast-models/runs/2026-12-01"
    assert status(kube_plane, workers, NAME)["analysis"]["measurements"] == 0
    table = kube_plane.kubectl("get", "modelreleases", "-n", workers).stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "VERSION", "WEIGHT", "STABLE", "REASON", "AGE"]
    assert table[1].split()[:6] == [
        NAME, "Progressing", "2026-12-01", "20", "v1", "PrometheusUnreachable"
    ]  # fmt: skip

    kube_plane.kubectl("annotate", "-n", workers, "modelrelease", NAME, "starcast.io/abort=true")
    wait_until(lambda: status(kube_plane, workers, NAME).get("phase") == "RolledBack", "abort", 60)
    assert status(kube_plane, workers, NAME)["reason"] == "Aborted"
    assert model_env(deployment(kube_plane, workers, WORKERS))["STARCAST_MODEL_URI"] == (
        "s3://models/v1"
    )
