"""Canary releases: replica counts at each step, promote and abort by kubectl, a canary that
never gets Ready, and an operator SIGKILLed mid-step that resumes the same step."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.kube import KubePlane, wait_until
from tests.support.operator_process import OperatorProcess
from tests.support.release import (
    CANARY,
    WORKERS,
    ReadyWatch,
    deployment,
    digest,
    model_env,
    model_release,
    status,
)

pytestmark = [pytest.mark.integration, pytest.mark.kube]

STABLE = 4


def _canary(plane: KubePlane, namespace: str) -> dict[str, Any] | None:
    found = plane.kubectl_json("get", "deployments", "-n", namespace)["items"]
    return next((d for d in found if d["metadata"]["name"] == CANARY), None)


def _at(plane: KubePlane, ns: str, name: str, step: int, phase: str) -> bool:
    current = status(plane, ns, name)
    return current.get("currentStep") == step and current.get("phase") == phase


def _ready_canaries(plane: KubePlane, ns: str, count: int) -> bool:
    canary = _canary(plane, ns)
    return (
        canary is not None
        and canary["spec"]["replicas"] == count
        and canary.get("status", {}).get("readyReplicas") == count
    )


def _steps(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Canary", "canary": {"steps": list(steps)}}


def _events(plane: KubePlane, ns: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = plane.kubectl_json(
        "get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}"
    )["items"]
    return items


def test_canary_steps_scale_the_canary_then_promotion_moves_the_stable_workers(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess, ready_watch: ReadyWatch
) -> None:
    sha = digest("v2")
    steps = _steps(
        {"setWeight": 20, "pause": {"durationSeconds": 3}},
        {"setWeight": 50, "pause": {"untilPromoted": True}},
    )
    kube_plane.kubectl(
        "apply", "-n", workers, "-f", "-",
        input=model_release("v2", sha256=sha, version="v2", strategy=steps),
    )  # fmt: skip
    # Step 0: 20% of the consumers: 1 canary beside the 4 stable workers.
    wait_until(lambda: _ready_canaries(kube_plane, workers, 1), "1 ready canary", 60)
    assert status(kube_plane, workers, "v2")["currentStep"] == 0
    assert status(kube_plane, workers, "v2")["weight"] == 20
    # Step 1: 50%: as many canaries as stable workers, paused until promoted.
    wait_until(lambda: _at(kube_plane, workers, "v2", 1, "Paused"), "Paused at step 1", 60)
    assert _ready_canaries(kube_plane, workers, STABLE)
    paused = status(kube_plane, workers, "v2")
    assert paused["weight"] == 50
    assert sorted((r["deployment"], r["version"], r["ready"]) for r in paused["replicas"]) == [
        (WORKERS, "v1", STABLE),
        (CANARY, "v2", STABLE),
    ]
    stable = deployment(kube_plane, workers)
    assert stable["spec"]["replicas"] == STABLE  # the canary is added, the stable never shrinks
    assert model_env(stable)["STARCAST_MODEL_SHA256"] != sha
    canary = _canary(kube_plane, workers)
    assert canary is not None
    assert canary["metadata"]["ownerReferences"][0]["kind"] == "ModelRelease"
    assert model_env(canary)["STARCAST_MODEL_SHA256"] == sha
    conditions = {cond["type"]: cond["status"] for cond in paused["conditions"]}
    assert conditions == {
        "Progressing": "True", "Paused": "True", "Complete": "False", "Failed": "False"
    }  # fmt: skip

    # An autoscaler (HPA or KEDA: both write the stable Deployment's scale subresource) adds
    # workers: the canary follows, keeping its share, and the operator never scales the stable.
    kube_plane.kubectl("scale", "deployment", WORKERS, "-n", workers, "--replicas=6")
    wait_until(lambda: _ready_canaries(kube_plane, workers, 6), "6 canaries beside 6 stable", 60)
    assert status(kube_plane, workers, "v2")["phase"] == "Paused"

    kube_plane.kubectl("annotate", "-n", workers, "modelrelease", "v2", "starcast.io/promote=true")
    wait_until(lambda: status(kube_plane, workers, "v2").get("phase") == "Succeeded", "v2", 120)
    promoted = deployment(kube_plane, workers)
    assert model_env(promoted)["STARCAST_MODEL_SHA256"] == sha
    assert promoted["spec"]["replicas"] == 6
    wait_until(lambda: _canary(kube_plane, workers) is None, "the canary removed", 60)
    annotations = kube_plane.kubectl_json("get", "modelrelease", "v2", "-n", workers)["metadata"]
    assert "starcast.io/promote" not in (annotations.get("annotations") or {})
    ready_watch.stop()
    print(f"canary: minimum ready workers {ready_watch.minimum()} of {STABLE}")
    assert ready_watch.minimum() >= STABLE - 1


def test_abort_removes_the_canary_and_a_canary_that_never_gets_ready_rolls_back(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess
) -> None:
    paused = _steps({"setWeight": 20, "pause": {"untilPromoted": True}})
    kube_plane.kubectl(
        "apply", "-n", workers, "-f", "-",
        input=model_release("v2", sha256=digest("v2"), version="v2", strategy=paused),
    )  # fmt: skip
    wait_until(lambda: _at(kube_plane, workers, "v2", 0, "Paused"), "Paused at step 0", 60)
    kube_plane.kubectl("annotate", "-n", workers, "modelrelease", "v2", "starcast.io/abort=true")
    wait_until(lambda: status(kube_plane, workers, "v2").get("phase") == "RolledBack", "abort", 60)
    aborted = status(kube_plane, workers, "v2")
    assert aborted["reason"] == "Aborted"
    assert aborted["history"][-1]["outcome"] == "Aborted"
    wait_until(lambda: _canary(kube_plane, workers) is None, "the canary removed", 60)

    bad = model_release(
        "broken", sha256=digest("broken", bad=True), version="broken", strategy=paused,
        deadline_s=5,
    )  # fmt: skip
    kube_plane.kubectl("apply", "-n", workers, "-f", "-", input=bad)
    wait_until(
        lambda: status(kube_plane, workers, "broken").get("phase") == "RolledBack",
        "the never-ready canary rolled back",
        90,
    )
    assert status(kube_plane, workers, "broken")["reason"] == "CanaryNotReady"
    wait_until(lambda: _canary(kube_plane, workers) is None, "the canary removed", 60)
    assert model_env(deployment(kube_plane, workers))["STARCAST_MODEL_URI"] == "s3://models/v1"


def test_an_operator_killed_mid_step_resumes_that_step_and_does_no_step_twice(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess
) -> None:
    steps = _steps(
        {"setWeight": 25, "pause": {"durationSeconds": 12}},
        {"setWeight": 50, "pause": {"untilPromoted": True}},
    )
    kube_plane.kubectl(
        "apply", "-n", workers, "-f", "-",
        input=model_release("v2", sha256=digest("v2"), version="v2", strategy=steps),
    )  # fmt: skip
    wait_until(
        lambda: status(kube_plane, workers, "v2").get("stepStartedAt") is not None,
        "step 0 started",
        60,
    )
    started = status(kube_plane, workers, "v2")
    assert started["currentStep"] == 0
    before = _canary(kube_plane, workers)
    assert before is not None
    operator.kill()
    operator.start()
    wait_until(lambda: _at(kube_plane, workers, "v2", 1, "Paused"), "Paused at step 1", 90)
    after = _canary(kube_plane, workers)
    assert after is not None
    assert after["metadata"]["uid"] == before["metadata"]["uid"]  # scaled on, never recreated
    starts = [e for e in _events(kube_plane, workers, "v2") if e["reason"] == "StepStarted"]
    messages = sorted(e["message"].split(":")[0] for e in starts)
    assert messages == ["step 0", "step 1"]
    assert all(e.get("count", 1) == 1 for e in starts)
    done = [e for e in _events(kube_plane, workers, "v2") if e["reason"] == "StepCompleted"]
    assert [e["message"].split(" (")[0] for e in done] == ["step 0"]
    assert _ready_canaries(kube_plane, workers, STABLE)
