"""A TrainingRun with autoRelease: its model is released only when it beats the serving one.

The runs' training is not what is under test here (tests/integration/operator/ runs it for
real); each run is given the status a succeeded run has, as the operator writes it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.support.kube import KubePlane, wait_until
from tests.support.operator_process import OperatorProcess
from tests.support.release import (
    SERVING_RELEASE,
    deployment,
    digest,
    model_env,
    status,
)

pytestmark = [pytest.mark.integration, pytest.mark.kube]

CHART_SHA = "1" * 64  # the model the test chart serves (version v1)
MARGIN = 0.05


def _run(
    plane: KubePlane, ns: str, name: str, *, sha: str, rmsle: float, auto_release: bool
) -> None:
    spec: dict[str, Any] = {
        "datasetUri": "s3://data/repos.parquet",
        "outputUri": "s3://models/{name}",
        "families": ["ridge"],
        "budget": "quick",
        "folds": 2,
    }
    if auto_release:
        spec["autoRelease"] = {
            "target": {"release": SERVING_RELEASE},
            "minImprovement": MARGIN,
            "progressDeadlineSeconds": 60,
        }
    manifest = {
        "apiVersion": "starcast.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": name},
        "spec": spec,
    }
    plane.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(manifest))
    succeeded = {
        "status": {
            "phase": "Succeeded",
            "metrics": {"winner": "ridge", "rmsle": rmsle, "r2Log": 0.5, "baselineRmsle": 1.5},
            "model": {"uri": f"s3://models/{name}", "sha256": sha, "version": name},
        }
    }
    plane.kubectl(
        "patch", "trainingrun", name, "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps(succeeded),
    )  # fmt: skip


def _gate(plane: KubePlane, ns: str, name: str) -> dict[str, Any] | None:
    body = plane.kubectl_json("get", "trainingrun", name, "-n", ns)
    gate: dict[str, Any] | None = (body.get("status") or {}).get("release")
    return gate


def _events(plane: KubePlane, ns: str, name: str) -> list[tuple[str, str]]:
    items = plane.kubectl_json(
        "get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}"
    )["items"]
    return [(e["reason"], e["message"]) for e in items]


def test_a_better_model_is_released_and_a_worse_one_is_held(
    kube_plane: KubePlane, workers: str, operator: OperatorProcess
) -> None:
    # The run that produced what serves now (no autoRelease): its score is the bar.
    _run(kube_plane, workers, "serving-run", sha=CHART_SHA, rmsle=0.90, auto_release=False)

    better = digest("better")
    _run(kube_plane, workers, "better", sha=better, rmsle=0.80, auto_release=True)
    wait_until(lambda: _gate(kube_plane, workers, "better") is not None, "the gate", 60)
    gate = _gate(kube_plane, workers, "better")
    assert gate is not None
    assert gate["decision"] == "Released" and gate["modelRelease"] == "better"
    assert gate["candidateRmsle"] == 0.80 and gate["servingRmsle"] == 0.90
    assert gate["servingVersion"] == "v1" and gate["minImprovement"] == MARGIN
    assert "TrainingRun serving-run" in gate["message"]
    wait_until(lambda: status(kube_plane, workers, "better").get("phase") == "Succeeded",
               "the released model rolled out", 120)  # fmt: skip
    released = status(kube_plane, workers, "better")
    assert released["gate"] == gate
    assert released["version"] == "better"
    assert model_env(deployment(kube_plane, workers))["STARCAST_MODEL_SHA256"] == better
    assert any(reason == "ModelReleased" for reason, _ in _events(kube_plane, workers, "better"))

    # 0.78 is better than 0.80, but not by the margin: held, nothing released.
    _run(kube_plane, workers, "worse", sha=digest("worse"), rmsle=0.78, auto_release=True)
    wait_until(lambda: _gate(kube_plane, workers, "worse") is not None, "the gate", 60)
    held = _gate(kube_plane, workers, "worse")
    assert held is not None
    assert held["decision"] == "Held" and "modelRelease" not in held
    assert held["servingRmsle"] == 0.80 and held["servingVersion"] == "better"
    assert "does not beat" in held["message"]
    assert any(reason == "ReleaseHeld" for reason, _ in _events(kube_plane, workers, "worse"))
    releases = kube_plane.kubectl_json("get", "modelreleases", "-n", workers)["items"]
    assert {r["metadata"]["name"] for r in releases} == {"better"}
    assert model_env(deployment(kube_plane, workers))["STARCAST_MODEL_SHA256"] == better
