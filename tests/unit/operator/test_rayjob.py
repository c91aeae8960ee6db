"""build_rayjob: the RayJob a TrainingRun becomes, and how KubeRay's status is read back."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
import yaml

from starcast.operator import constants as c
from starcast.operator.models.trainingrun import TrainingRunSpec
from starcast.operator.rayjob import (
    MAX_RAYJOB_NAME,
    RayJobStatus,
    RunIdentity,
    StorageEnv,
    build_rayjob,
    output_uri,
    rayjob_name,
)

RUN = RunIdentity(namespace="ml", name="nightly", uid="0f3c-uid")


def _spec(**fields: object) -> TrainingRunSpec:
    base = {"datasetUri": "s3://data/repos.parquet", "outputUri": "s3://models/{name}"}
    return TrainingRunSpec.model_validate(base | fields)


def _build(spec: TrainingRunSpec, storage: StorageEnv | None = None) -> dict[str, Any]:
    return build_rayjob(
        RUN, spec, image="trainer:1", out_uri="s3://models/nightly", storage=storage or StorageEnv()
    )


def test_entrypoint_carries_every_argument_of_the_spec() -> None:
    spec = _spec(
        families=["ridge", "k_neighbors"], budget="quick", folds=3, popularityFeatures=True, seed=7
    )
    argv = shlex.split(_build(spec)["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", "starcast.training"]
    assert argv[argv.index("--out") + 1] == "s3://models/nightly"
    assert argv[argv.index("--data") + 1] == "s3://data/repos.parquet"
    assert argv[argv.index("--budget") + 1] == "quick"
    assert argv[argv.index("--folds") + 1] == "3"
    assert argv[argv.index("--seed") + 1] == "7"
    assert "--popularity-features" in argv
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--family"] == ["ridge", "k_neighbors"]


def test_rayjob_shape_follows_kuberay() -> None:
    spec = _spec(
        activeDeadlineSeconds=900,
        ttlSecondsAfterFinished=60,
        ray={
            "head": {"cpu": "2", "memory": "3Gi"},
            "workers": {"replicas": 2, "minReplicas": 1, "maxReplicas": 5, "cpu": "3"},
        },
    )
    job = _build(spec, StorageEnv(endpoint="http://s3:9000", secret_name="creds"))
    meta, body = job["metadata"], job["spec"]
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    assert meta["name"] == "tr-nightly"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": c.API_VERSION,
            "kind": "TrainingRun",
            "name": "nightly",
            "uid": "0f3c-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert body["submissionMode"] == "K8sJobMode"
    assert body["shutdownAfterJobFinishes"] is True
    assert body["ttlSecondsAfterFinished"] == 60
    assert body["activeDeadlineSeconds"] == 900
    assert body["backoffLimit"] == 0
    assert body["submitterConfig"] == {"backoffLimit": 2}
    assert yaml.safe_load(body["runtimeEnvYAML"]) == {
        "env_vars": {"STARCAST_TRAINING_RUN": "ml/nightly"}
    }
    cluster = body["rayClusterSpec"]
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["image"] == "trainer:1"
    assert head["resources"]["limits"] == {"cpu": "2", "memory": "3Gi"}
    assert {"name": "AWS_ENDPOINT_URL", "value": "http://s3:9000"} in head["env"]
    assert head["envFrom"] == [{"secretRef": {"name": "creds"}}]
    (group,) = cluster["workerGroupSpecs"]
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (2, 1, 5)
    worker = group["template"]["spec"]["containers"][0]
    assert worker["resources"]["requests"] == {"cpu": "3", "memory": "4Gi"}
    assert cluster["enableInTreeAutoscaling"] is True


def test_retries_only_when_asked_and_no_deadline_by_default() -> None:
    assert "activeDeadlineSeconds" not in _build(_spec())["spec"]
    assert _build(_spec(retries=2))["spec"]["backoffLimit"] == 2


def test_build_is_pure() -> None:
    assert _build(_spec()) == _build(_spec())


@pytest.mark.parametrize("length", [1, 44, 45, 100, 253])
def test_rayjob_name_is_deterministic_and_within_kuberays_limit(length: int) -> None:
    run_name = ("a" * (length - 1) + "b")[:length]
    name = rayjob_name(run_name)
    assert len(name) <= MAX_RAYJOB_NAME
    assert name == rayjob_name(run_name)
    assert name.startswith("tr-")
    assert rayjob_name(run_name[:-1] + "c") != name


def test_output_uri_template() -> None:
    template = "s3://models/{namespace}/{name}/{uid}"
    assert output_uri(template, namespace="ml", name="n", uid="u") == "s3://models/ml/n/u"


@pytest.mark.parametrize(
    ("status", "succeeded", "failed", "running"),
    [
        ({"jobStatus": "SUCCEEDED", "jobDeploymentStatus": "Complete"}, True, False, False),
        # Complete alone is not success: KubeRay sets it for STOPPED jobs too.
        ({"jobStatus": "STOPPED", "jobDeploymentStatus": "Complete"}, False, True, False),
        ({"jobDeploymentStatus": "Complete"}, False, False, False),
        ({"jobStatus": "FAILED", "jobDeploymentStatus": "Failed"}, False, True, False),
        ({"jobDeploymentStatus": "ValidationFailed"}, False, True, False),
        ({"jobStatus": "FAILED", "jobDeploymentStatus": "Retrying"}, False, False, False),
        ({"jobStatus": "RUNNING", "jobDeploymentStatus": "Running"}, False, False, True),
        ({"jobDeploymentStatus": "Initializing"}, False, False, False),
    ],
)
def test_kuberay_status_reading(
    status: dict[str, str], succeeded: bool, failed: bool, running: bool
) -> None:
    parsed = RayJobStatus.model_validate(status)
    assert (parsed.succeeded, parsed.failed, parsed.running) == (succeeded, failed, running)
