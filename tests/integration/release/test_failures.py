"""The other ways a rollout fails: a crash-looping worker, no automatic rollback, and a
rollback that itself cannot complete (it ends Failed, saying why)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.kube import KubePlane, wait_until
from tests.support.operator_process import OperatorProcess
from tests.support.release import (
    CRASH_LOOP_DIGEST_PREFIX,
    WORKERS,
    deployment,
    digest,
    model_env,
    model_release,
    status,
)

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def _slow_deployment_deadline(plane: KubePlane, namespace: str) -> None:
    """Only the operator's own checks can fail the rollout (the chart's deadline is 8 s)."""
    plane.kubectl(
        "patch", "deployment", WORKERS, "-n", namespace, "--type=merge",
        "-p", '{"spec":{"progressDeadlineSeconds":600}}',
    )  # fmt: skip


def _phase(plane: KubePlane, namespace: str, name: str) -> str | None:
    phase: str | None = status(plane, namespace, name).get("phase")
    return phase


def _conditions(found: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {cond["type"]: (cond["status"], cond["reason"]) for cond in found["conditions"]}


def _warnings(plane: KubePlane, namespace: str, name: str) -> set[str]:
    items = plane.kubectl_json(
        "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}"
    )["items"]
    return {e["reason"] for e in items if e["type"] == "Warning"}


def test_a_crash_looping_model_is_rolled_back(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess
) -> None:
    _slow_deployment_deadline(kube_plane, workers)
    crashing = digest("crashing", prefix=CRASH_LOOP_DIGEST_PREFIX)
    kube_plane.kubectl(
        "apply", "-n", workers, "-f", "-",
        input=model_release("crashing", sha256=crashing, version="crashing", deadline_s=300),
    )  # fmt: skip
    wait_until(lambda: _phase(kube_plane, workers, "crashing") == "RolledBack", "rollback", 120)
    final = status(kube_plane, workers, "crashing")
    assert final["reason"] == "CrashLoop", final
    assert "CrashLoopBackOff" in final["message"] and "rolling back to v1" in final["message"]
    assert [(h["version"], h["outcome"]) for h in final["history"]] == [
        ("v1", "Serving"),
        ("crashing", "RolledBack"),
    ]
    assert _conditions(final) == {
        "Progressing": ("False", "CrashLoop"),
        "Paused": ("False", "CrashLoop"),
        "Complete": ("False", "CrashLoop"),
        "Failed": ("True", "CrashLoop"),  # kubectl wait --for=condition=Failed ends
    }
    assert "CrashLoop" in _warnings(kube_plane, workers, "crashing")
    assert model_env(deployment(kube_plane, workers))["STARCAST_MODEL_URI"] == "s3://models/v1"


def test_without_automatic_rollback_a_failed_release_ends_failed_and_leaves_the_workers(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess
) -> None:
    bad = digest("kept", bad=True)
    manifest = model_release(
        "kept", sha256=bad, version="kept", deadline_s=300, automatic_rollback=False
    )
    kube_plane.kubectl("apply", "-n", workers, "-f", "-", input=manifest)
    wait_until(lambda: _phase(kube_plane, workers, "kept") == "Failed", "Failed", 120)
    final = status(kube_plane, workers, "kept")
    assert final["reason"] == "ProgressDeadlineExceeded"
    assert final["history"][-1]["outcome"] == "Failed"
    assert "rollbackStartedAt" not in final
    assert model_env(deployment(kube_plane, workers))["STARCAST_MODEL_SHA256"] == bad


@pytest.fixture
def cordoned(kube_plane: KubePlane) -> Iterator[list[str]]:
    """Every node cordoned (no new pod can be scheduled); uncordoned afterwards."""
    nodes = [n["metadata"]["name"] for n in kube_plane.kubectl_json("get", "nodes")["items"]]
    try:
        yield nodes
    finally:
        for node in nodes:
            kube_plane.kubectl("uncordon", node)


def test_a_rollback_that_cannot_complete_ends_failed(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess, cordoned: list[str]
) -> None:
    # maxUnavailable 100%: the old pods go at once, so the rollback needs new pods, and with
    # every node cordoned none can be scheduled: neither the rollout nor the rollback completes.
    _slow_deployment_deadline(kube_plane, workers)
    for node in cordoned:
        kube_plane.kubectl("cordon", node)
    strategy = {"type": "Rolling", "rolling": {"maxSurge": "0", "maxUnavailable": "100%"}}
    kube_plane.kubectl(
        "apply", "-n", workers, "-f", "-",
        input=model_release("nowhere", sha256=digest("nowhere"), version="nowhere",
                            strategy=strategy, deadline_s=8),
    )  # fmt: skip
    wait_until(lambda: _phase(kube_plane, workers, "nowhere") == "Failed", "Failed", 120)
    final = status(kube_plane, workers, "nowhere")
    assert final["reason"] == "RollbackFailed", final
    assert final["message"].startswith("rolling back to v1 failed too"), final["message"]
    assert "after ProgressDeadline" in final["message"]
    assert final["history"][-1]["outcome"] == "Failed"
    assert final["failureObservedAt"] <= final["rollbackStartedAt"] <= final["finishedAt"]
    assert {"ProgressDeadline", "RollbackFailed"} <= _warnings(kube_plane, workers, "nowhere")
    # The release's rolling parameters are what the Deployment controller used.
    rolling = deployment(kube_plane, workers)["spec"]["strategy"]["rollingUpdate"]
    assert rolling == {"maxSurge": 0, "maxUnavailable": "100%"}
