"""A ModelRelease as `kubectl get mr` shows it: the weight as the share of pods really served,
a canary labelled as the operator's, a bounded wait for an unreachable Prometheus (then the
canary goes, saying why), and a trainingRunRef to a namespace the operator may not read."""

from __future__ import annotations

import pytest
import yaml

from starcast.up.processes import free_port
from tests.support.kube import KubePlane, wait_until
from tests.support.operator_process import OperatorProcess
from tests.support.release import (
    CANARY,
    WORKERS,
    deployment,
    digest,
    model_env,
    model_release,
    status,
)

pytestmark = [pytest.mark.integration, pytest.mark.kube]

UNREACHABLE_S = 5


def test_unreachable_prometheus_rolls_the_canary_back_after_its_bound(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess
) -> None:
    analysis = {
        "prometheusUrl": f"http://127.0.0.1:{free_port()}",  # nothing listens
        "intervalSeconds": 1,
        "count": 2,
        "unreachableTimeoutSeconds": UNREACHABLE_S,
        "checks": [{"name": "errors", "query": "vector(0)", "max": 0.05}],
    }
    strategy = {"type": "Canary", "canary": {"steps": [{"setWeight": 25, "analysis": True}]}}
    release = model_release(
        "blind", sha256=digest("v2"), version="v2", strategy=strategy, analysis=analysis
    )
    kube_plane.kubectl("apply", "-n", workers, "-f", "-", input=release)

    def waiting_for_prometheus() -> bool:
        return status(kube_plane, workers, "blind").get("reason") == "PrometheusUnreachable"

    wait_until(waiting_for_prometheus, "the canary asking Prometheus", 90)
    canary = deployment(kube_plane, workers, CANARY)
    assert canary["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "starcast-operator"
    # 25% of 4 stable pods is 2 canary pods: 2 of 6 consumers, and that is what is shown.
    assert canary["spec"]["replicas"] == 2
    assert status(kube_plane, workers, "blind")["weight"] == 33
    row = kube_plane.kubectl("get", "mr", "blind", "-n", workers, "--no-headers").stdout.split()
    assert row[1:6] == ["Progressing", "v2", "33", "v1", "PrometheusUnreachable"]

    wait_until(
        lambda: status(kube_plane, workers, "blind").get("phase") == "RolledBack",
        "the canary rolled back once Prometheus stayed away",
        60,
    )
    ended = status(kube_plane, workers, "blind")
    assert ended["reason"] == "AnalysisUnavailable"
    assert f"no analysis data for {UNREACHABLE_S}s" in ended["message"]
    assert model_env(deployment(kube_plane, workers, WORKERS))["STARCAST_MODEL_URI"] == (
        "s3://models/v1"
    )
    assert ended["stableVersion"] == "v1"  # what serves now
    failed = {c["type"]: c["status"] for c in ended["conditions"]}
    assert failed["Failed"] == "True" and failed["Complete"] == "False"


def test_a_training_run_ref_to_an_unwatched_namespace_fails_saying_so(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess
) -> None:
    body = yaml.safe_load(model_release("far", sha256=digest("v2"), version="v2"))
    body["spec"]["model"] = {"trainingRunRef": "elsewhere/nightly"}
    kube_plane.kubectl("apply", "-n", workers, "-f", "-", input=yaml.safe_dump(body))
    wait_until(
        lambda: status(kube_plane, workers, "far").get("phase") == "Failed", "the release", 60
    )
    message = status(kube_plane, workers, "far")["message"]
    assert "namespace elsewhere is not one the operator watches" in message
    assert "watch.namespaces" in message


def test_kubectl_delete_mr_does_not_wait_for_a_stopped_operator(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess
) -> None:
    """ModelReleases go through the work queue, not kopf timers: no finalizer on them."""
    release = model_release("quick", sha256=digest("v2"), version="v2")
    kube_plane.kubectl("apply", "-n", workers, "-f", "-", input=release)
    wait_until(lambda: bool(status(kube_plane, workers, "quick").get("phase")), "a phase", 60)
    body = kube_plane.kubectl_json("get", "mr", "quick", "-n", workers)
    assert not body["metadata"].get("finalizers")
    operator.stop()
    kube_plane.kubectl("delete", "mr", "quick", "-n", workers, "--timeout=20s")
    listed = kube_plane.kubectl_json("get", "mr", "-n", workers)["items"]
    assert [item["metadata"]["name"] for item in listed] == []
