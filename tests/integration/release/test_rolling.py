"""Rolling releases on the real Deployment controller: success, automatic rollback, N-1 kept."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.kube import KubePlane, wait_until
from tests.support.operator_process import OperatorProcess
from tests.support.release import (
    WORKERS,
    WORKERS_CHART,
    ReadyWatch,
    deployment,
    digest,
    model_env,
    model_release,
    status,
)

pytestmark = [pytest.mark.integration, pytest.mark.kube]

REPLICAS = 4


def _phase(plane: KubePlane, namespace: str, name: str) -> str | None:
    phase: str | None = status(plane, namespace, name).get("phase")
    return phase


def test_rolling_release_reaches_every_worker_and_never_drops_below_n_minus_1(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess, ready_watch: ReadyWatch
) -> None:
    sha = digest("v2")
    kube_plane.kubectl(
        "apply", "-n", workers, "-f", "-", input=model_release("v2", sha256=sha, version="v2")
    )
    wait_until(lambda: _phase(kube_plane, workers, "v2") == "Succeeded", "v2 released", 120)

    deploy = deployment(kube_plane, workers)
    env = model_env(deploy)
    assert env["STARCAST_MODEL_SHA256"] == sha
    assert env["STARCAST_MODEL_URI"] == "s3://models/v2"
    assert deploy["spec"]["template"]["metadata"]["labels"]["starcast.io/model-version"] == "v2"
    pods = kube_plane.kubectl_json(
        "get", "pods", "-n", workers, "-l", "starcast.io/model-version=v2"
    )["items"]
    assert len(pods) == REPLICAS
    final = status(kube_plane, workers, "v2")
    assert final["stableVersion"] == "v2" and final["version"] == "v2"  # serving now
    assert final["stable"]["version"] == "v1"  # what a rollback would have restored
    assert [(h["version"], h["outcome"]) for h in final["history"]] == [
        ("v1", "Serving"),
        ("v2", "Succeeded"),
    ]
    assert final["replicas"] == [
        {"version": "v2", "deployment": WORKERS, "replicas": REPLICAS, "ready": REPLICAS}
    ]
    conditions = {cond["type"]: (cond["status"], cond["reason"]) for cond in final["conditions"]}
    assert conditions == {
        "Progressing": ("False", "Released"),
        "Paused": ("False", "Released"),
        "Complete": ("True", "Released"),
        "Failed": ("False", "Released"),
    }
    # The release's rolling parameters (the defaults: 25% surge, never one unavailable).
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}
    ready_watch.stop()
    minimum = ready_watch.minimum()
    print(f"rolling: minimum ready workers {minimum} of {REPLICAS}")
    assert minimum >= REPLICAS - 1

    # The operator owns only the model fields: the chart's own upgrade keeps the released model.
    managed = kube_plane.kubectl_json(
        "get", "deployment", WORKERS, "-n", workers, "--show-managed-fields"
    )["metadata"]["managedFields"]
    ours = next(entry for entry in managed if entry["manager"] == "starcast-operator")
    assert ours["operation"] == "Apply"
    owned = json.dumps(ours["fieldsV1"])
    assert "STARCAST_MODEL_SHA256" in owned and "STARCAST_LOG_LEVEL" not in owned
    assert "f:maxUnavailable" in owned
    assert "replicas" not in owned and "image" not in owned
    kube_plane.helm(
        "upgrade", "serving", str(WORKERS_CHART), "-n", workers, "--reuse-values",
        "--set", "logLevel=debug", "--wait", "--timeout=120s",
    )  # fmt: skip
    upgraded = model_env(deployment(kube_plane, workers))
    assert upgraded["STARCAST_LOG_LEVEL"] == "debug"
    assert upgraded["STARCAST_MODEL_SHA256"] == sha


def test_a_model_whose_pods_never_get_ready_is_rolled_back(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess, ready_watch: ReadyWatch
) -> None:
    good = model_env(deployment(kube_plane, workers))["STARCAST_MODEL_SHA256"]
    kube_plane.kubectl(
        "apply", "-n", workers, "-f", "-",
        input=model_release("broken", sha256=digest("broken", bad=True), version="broken"),
    )  # fmt: skip
    # Polled, the Deployment's ProgressDeadlineExceeded may be gone (rolled back) before it is
    # seen under load: the release's status says what the operator saw, and when.
    failed_at = rolled_back_at = None
    deadline = time.monotonic() + 120
    while rolled_back_at is None and time.monotonic() < deadline:
        deploy = deployment(kube_plane, workers)
        conditions = deploy.get("status", {}).get("conditions", [])
        if failed_at is None and any(
            c["type"] == "Progressing" and c["reason"] == "ProgressDeadlineExceeded"
            for c in conditions
        ):
            failed_at = time.monotonic()
        if model_env(deploy)["STARCAST_MODEL_SHA256"] == good:
            rolled_back_at = time.monotonic()
        time.sleep(0.1)
    assert rolled_back_at is not None, "no rollback within 120 s"
    if failed_at is not None:
        reaction = rolled_back_at - failed_at
        print(f"rollback reaction: {reaction:.2f}s after ProgressDeadlineExceeded")

    wait_until(lambda: _phase(kube_plane, workers, "broken") == "RolledBack", "RolledBack", 120)
    final = status(kube_plane, workers, "broken")
    assert final["reason"] == "ProgressDeadlineExceeded"
    assert [(h["version"], h["outcome"]) for h in final["history"]] == [
        ("v1", "Serving"),
        ("broken", "RolledBack"),
    ]
    assert final["failureObservedAt"] <= final["rollbackStartedAt"]
    events = kube_plane.kubectl_json(
        "get", "events", "-n", workers, "--field-selector", "involvedObject.name=broken"
    )["items"]
    reasons = {(e["type"], e["reason"]) for e in events}
    assert ("Warning", "ProgressDeadlineExceeded") in reasons
    pods = kube_plane.kubectl_json("get", "pods", "-n", workers)["items"]
    assert {p["metadata"]["labels"]["starcast.io/model-version"] for p in pods} == {"v1"}
    ready_watch.stop()
    minimum = ready_watch.minimum()
    print(f"rolling to a bad model: minimum ready workers {minimum} of {REPLICAS}")
    assert minimum >= REPLICAS - 1
