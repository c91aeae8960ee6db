"""The API server itself rejects bad TrainingRuns and ModelReleases, naming the field.

No operator runs here: these are the generated schemas and CEL rules at work.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.operator.resources import apply, training_run
from tests.support.kube import KubePlane

pytestmark = [pytest.mark.kube, pytest.mark.usefixtures("starcast_crds")]

VALID = {"datasetUri": "s3://data/repos.parquet", "outputUri": "s3://models/{name}"}


def _rejected(plane: KubePlane, obj: dict[str, Any]) -> str:
    error = apply(plane, obj, check=False)
    assert "created" not in error and "configured" not in error, f"accepted: {obj}"
    return error


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"budget": "huge"}, 'spec.budget: Unsupported value: "huge"'),
        ({"folds": 1}, "spec.folds: Invalid value: 1: spec.folds in body should be greater than"),
        ({"families": ["svm"]}, 'spec.families[0]: Unsupported value: "svm"'),
        ({"families": ["ridge", "ridge"]}, "spec.families[1]: Duplicate value"),
        ({"datasetUri": "repos.parquet"}, "spec.datasetUri: Invalid value"),
        ({"outputUri": "s3://models/latest"}, "spec.outputUri: Invalid value"),
        ({"ray": {"head": {"cpu": "lots"}}}, "spec.ray.head.cpu: Invalid value"),
        (
            {"ray": {"workers": {"replicas": 5, "maxReplicas": 2}}},
            "spec.ray.workers.replicas: Invalid value: replicas must lie between",
        ),
        ({"ttlSecondsAfterFinished": -1}, "spec.ttlSecondsAfterFinished: Invalid value: -1"),
        ({"retries": 11}, "spec.retries: Invalid value: 11"),
        ({"storageSecretRef": {}}, "spec.storageSecretRef.name: Required value"),
    ],
)
def test_bad_training_run_specs_are_rejected_with_the_field(
    kube_plane: KubePlane, kube_namespace: str, change: dict[str, Any], expected: str
) -> None:
    error = _rejected(kube_plane, training_run("bad", kube_namespace, **(VALID | change)))
    assert expected in error, error


def test_missing_required_fields_are_named(kube_plane: KubePlane, kube_namespace: str) -> None:
    error = _rejected(kube_plane, training_run("bad", kube_namespace))
    assert "spec.datasetUri: Required value" in error
    assert "spec.outputUri: Required value" in error


def test_output_uri_must_be_unique_per_run(kube_plane: KubePlane, kube_namespace: str) -> None:
    spec = VALID | {"outputUri": "s3://models/{namespace}/latest"}
    error = _rejected(kube_plane, training_run("bad", kube_namespace, **spec))
    assert "outputUri must contain {name} or {uid}" in error


def test_defaults_are_filled_in_by_the_api_server(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    apply(kube_plane, training_run("defaults", kube_namespace, **VALID))
    spec = kube_plane.kubectl_json("get", "tr", "defaults", "-n", kube_namespace)["spec"]
    assert (spec["budget"], spec["folds"], spec["popularityFeatures"]) == ("standard", 5, False)
    assert spec["ray"]["workers"] == {
        "replicas": 1,
        "minReplicas": 0,
        "maxReplicas": 4,
        "cpu": "2",
        "memory": "4Gi",
    }
    assert spec["ray"]["head"] == {"cpu": "1", "memory": "2Gi"}
    assert (spec["ttlSecondsAfterFinished"], spec["retries"]) == (3600, 0)


def test_spec_is_immutable_once_started(kube_plane: KubePlane, kube_namespace: str) -> None:
    ns = kube_namespace
    apply(kube_plane, training_run("run", ns, **VALID))
    # Before the RayJob exists (waiting for KubeRay, say) the spec may still change.
    apply(kube_plane, training_run("run", ns, **(VALID | {"folds": 3})))
    kube_plane.kubectl(
        "patch", "tr", "run", "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"phase": "Running", "rayJobName": "tr-run"}}),
    )  # fmt: skip
    error = _rejected(kube_plane, training_run("run", ns, **(VALID | {"folds": 4})))
    assert "spec: Forbidden: spec is immutable once the TrainingRun has started" in error
    assert "create a new TrainingRun" in error
    # Labels and annotations are not the spec: still editable.
    kube_plane.kubectl("label", "tr", "run", "-n", ns, "team=ml")


def test_spec_edits_of_a_run_that_failed_before_its_rayjob_are_refused_with_the_fix(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    """Failed on a missing Secret, say: no RayJob, but an edit would be ignored, so refused."""
    ns = kube_namespace
    apply(kube_plane, training_run("failed", ns, **VALID))
    kube_plane.kubectl(
        "patch", "tr", "failed", "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"phase": "Failed", "reason": "SecretNotFound"}}),
    )  # fmt: skip
    error = _rejected(kube_plane, training_run("failed", ns, **(VALID | {"folds": 4})))
    assert "spec: Forbidden: spec is immutable once the TrainingRun has started" in error
    assert "kubectl delete trainingrun NAME, then apply it again" in error
    generation = kube_plane.kubectl_json("get", "tr", "failed", "-n", ns)["metadata"]
    assert generation["generation"] == 1


def test_printer_columns_short_name_and_category(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    ns = kube_namespace
    apply(kube_plane, training_run("shown", ns, **VALID))
    kube_plane.kubectl(
        "patch", "tr", "shown", "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {
            "phase": "Succeeded", "reason": "ModelVerified", "rmsle": "0.912",
            "message": "model v-1 at s3://m/shown, sha256 verified",
            "metrics": {"winner": "extra_trees", "rmsle": 0.91234567, "r2Log": 0.4,
                        "baselineRmsle": 1.5},
            "model": {"uri": "s3://m/shown", "sha256": "a" * 64, "version": "v-1"},
        }}),
    )  # fmt: skip
    table = kube_plane.kubectl("get", "tr", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "WINNER", "RMSLE", "MODEL", "REASON", "AGE"]
    assert table[1].split()[:6] == [
        "shown", "Succeeded", "extra_trees", "0.912", "v-1", "ModelVerified"
    ]  # fmt: skip
    wide = kube_plane.kubectl("get", "tr", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-2:] == ["MESSAGE", "RAYJOB"]
    assert "model v-1 at s3://m/shown, sha256 verified" in wide[1]
    assert "trainingrun.starcast.io/shown" in kube_plane.kubectl("get", "starcast", "-n", ns).stdout


def test_status_outside_the_schema_is_rejected(kube_plane: KubePlane, kube_namespace: str) -> None:
    ns = kube_namespace
    apply(kube_plane, training_run("st", ns, **VALID))
    result = kube_plane.kubectl(
        "patch", "tr", "st", "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"phase": "Exploded"}}), check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert 'status.phase: Unsupported value: "Exploded"' in result.stderr


RELEASE = {"model": {"uri": "s3://m/a", "sha256": "b" * 64}, "target": {"release": "serving"}}


def _release(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "starcast.io/v1alpha1",
        "kind": "ModelRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def test_model_release_accepts_a_valid_canary(kube_plane: KubePlane, kube_namespace: str) -> None:
    strategy = {
        "type": "Canary",
        "canary": {"steps": [{"setWeight": 10, "pause": {"durationSeconds": 60}},
                             {"setWeight": 50, "pause": {"untilPromoted": True}},
                             {"setWeight": 100}]},
    }  # fmt: skip
    apply(kube_plane, _release("ok", kube_namespace, **RELEASE, strategy=strategy))
    spec = kube_plane.kubectl_json("get", "mr", "ok", "-n", kube_namespace)["spec"]
    assert "pause" not in spec["strategy"]["canary"]["steps"][2]  # optional stays absent
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["rollback"] == {"automatic": True}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"model": {"uri": "s3://m/a"}, "target": {"release": "serving"}},
            "uri and sha256 go together",
        ),
        (
            {"model": {**RELEASE["model"], "trainingRunRef": "tr1"}, "target": {"release": "s"}},
            "give either uri and sha256, or trainingRunRef, not both",
        ),
        ({**RELEASE, "strategy": {"type": "Canary"}}, "strategy type Canary needs"),
        (
            {**RELEASE, "strategy": {"type": "Canary", "canary": {"steps": [
                {"setWeight": 50}, {"setWeight": 20}]}}},
            "canary weights must not decrease",
        ),
        (
            {**RELEASE, "strategy": {"type": "Canary", "canary": {"steps": [
                {"setWeight": 20, "pause": {}}]}}},
            "a pause needs durationSeconds or untilPromoted",
        ),
        (
            {**RELEASE, "strategy": {"type": "Canary", "canary": {"steps": [
                {"setWeight": 120}]}}},
            "spec.strategy.canary.steps[0].setWeight: Invalid value: 120",
        ),
        (
            {**RELEASE, "strategy": {"rolling": {"maxSurge": "0", "maxUnavailable": "0%"}}},
            "maxSurge and maxUnavailable cannot both be 0",
        ),
        (
            {**RELEASE, "strategy": {"rolling": {"maxUnavailable": "150%"}}},
            "spec.strategy.rolling.maxUnavailable",
        ),
        (
            {**RELEASE, "strategy": {"type": "Canary", "canary": {"steps": [
                {"setWeight": 20, "analysis": True}]}}},
            "a canary step has analysis: true but spec.analysis is not set: add spec.analysis",
        ),
        (
            {"model": {"trainingRunRef": "Not/A/Ref"}, "target": {"release": "s"}},
            "spec.model.trainingRunRef: Invalid value",
        ),
    ],
)  # fmt: skip
def test_bad_model_releases_are_rejected(
    kube_plane: KubePlane, kube_namespace: str, spec: dict[str, Any], expected: str
) -> None:
    error = _rejected(kube_plane, _release("bad", kube_namespace, **spec))
    assert expected in error, error
