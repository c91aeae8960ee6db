"""A TrainingRun on the real plane: the operator's RayJob, its status, failures, restarts, GC."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from starcast import artifact
from tests.integration.operator.conftest import ACCESS_KEY, SECRET_KEY, TrainingNamespace
from tests.integration.operator.resources import (
    apply,
    condition,
    events_for,
    get,
    items,
    status,
    wait_for,
    wait_phase,
)
from tests.support.kube import KubePlane
from tests.support.operator_process import OperatorProcess
from tests.support.rayjob_executor import LocalRayJobExecutor
from tests.support.s3 import REGION

pytestmark = [pytest.mark.kube, pytest.mark.integration]

REPO_ROOT = Path(__file__).resolve().parents[3]


def storage_options(endpoint: str) -> dict[str, object]:
    return {
        "key": ACCESS_KEY,
        "secret": SECRET_KEY,
        "endpoint_url": endpoint,
        "client_kwargs": {"region_name": REGION},
    }


def _rayjobs(plane: KubePlane, namespace: str) -> list[dict[str, Any]]:
    return items(plane, "rayjobs", namespace)


def test_a_run_trains_as_an_owned_rayjob_and_reports_its_model(
    kube_plane: KubePlane, served: TrainingNamespace, operator: OperatorProcess, s3_endpoint: str
) -> None:
    ns = served.name
    apply(
        kube_plane,
        served.run("nightly"),
    )
    tr = get(kube_plane, "trainingrun", "nightly", ns)
    assert tr is not None

    job = wait_for("the RayJob", lambda: get(kube_plane, "rayjob", "tr-nightly", ns))
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "TrainingRun", "nightly", tr["metadata"]["uid"], True,
    )  # fmt: skip
    assert "--family ridge" in job["spec"]["entrypoint"]

    done = wait_phase(kube_plane, "nightly", ns, "Succeeded", timeout=420, log=operator.log_tail)
    out_uri = f"{served.output_prefix()}/nightly-{tr['metadata']['uid']}"
    manifest = artifact.verify_artifact(out_uri, storage_options=storage_options(s3_endpoint))
    assert done["model"] == {
        "uri": out_uri,
        "sha256": manifest.model_sha256,
        "version": manifest.model_version,
    }
    metrics = done["metrics"]
    assert metrics["winner"] == manifest.winner.family == "ridge"
    assert metrics["rmsle"] == pytest.approx(manifest.winner.metrics.rmsle)
    assert metrics["r2Log"] == pytest.approx(manifest.winner.metrics.r2_log)
    assert metrics["baselineRmsle"] == pytest.approx(manifest.baseline.rmsle)
    assert [f["family"] for f in metrics["families"]] == [f.family for f in manifest.families]
    assert (done["rayJobName"], done["jobStatus"], done["observedGeneration"]) == (
        "tr-nightly", "SUCCEEDED", 1,
    )  # fmt: skip
    assert done["startTime"] <= done["completionTime"]
    assert condition(done, "Succeeded")["reason"] == "ModelVerified"
    reasons = sorted(e["reason"] for e in events_for(kube_plane, "nightly", ns))
    assert reasons == ["Pending", "Running", "Succeeded"]  # one Event per phase change
    assert len(_rayjobs(kube_plane, ns)) == 1
    row = kube_plane.kubectl("get", "tr", "nightly", "-n", ns, "--no-headers").stdout.split()
    assert row[1:3] == ["Succeeded", "ridge"]


def test_a_failing_job_fails_the_run_with_kuberays_reason(
    kube_plane: KubePlane, served: TrainingNamespace, operator: OperatorProcess
) -> None:
    ns = served.name
    served.s3.put_object(Bucket=served.bucket, Key="data/broken.parquet", Body=b"not parquet")
    apply(kube_plane, served.run("broken", datasetUri=f"s3://{served.bucket}/data/broken.parquet"))
    failed = wait_phase(kube_plane, "broken", ns, "Failed", timeout=300, log=operator.log_tail)
    succeeded = condition(failed, "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "AppFailed")
    assert "Job entrypoint command failed with exit code 2" in succeeded["message"]
    assert failed["jobStatus"] == "FAILED" and failed["jobDeploymentStatus"] == "Failed"
    warnings = [e for e in events_for(kube_plane, "broken", ns) if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["AppFailed"]
    assert "model" not in failed


def test_operator_killed_mid_run_resumes_with_one_rayjob(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    executor: LocalRayJobExecutor,
    prepared_artifact: Callable[[str], None],
) -> None:
    ns = served.name
    with executor.hold():
        apply(
            kube_plane,
            served.run("survivor"),
        )
        wait_phase(kube_plane, "survivor", ns, "Running", log=operator.log_tail)
        operator.kill()
        # The job finishes while no operator runs; a restarted one picks the run up.
    wait_for(
        "the job to succeed",
        lambda: (
            (get(kube_plane, "rayjob", "tr-survivor", ns) or {}).get("status", {}).get("jobStatus")
            == "SUCCEEDED"
        ),
    )
    assert status(kube_plane, "survivor", ns)["phase"] == "Running"
    operator.start()
    done = wait_phase(kube_plane, "survivor", ns, "Succeeded", log=operator.log_tail)
    assert done["model"]["sha256"]
    assert [j["metadata"]["name"] for j in _rayjobs(kube_plane, ns)] == ["tr-survivor"]
    assert executor.started_jobs.count(f"{ns}/tr-survivor") == 1


def test_two_operators_racing_make_one_rayjob(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    prepared_artifact: Callable[[str], None],
    tmp_path: Path,
) -> None:
    """A second standalone operator (as during a botched rollout) sees the same events."""
    ns = served.name
    twin = OperatorProcess(operator.env, tmp_path / "twin.log", "--standalone").start()
    try:
        runs = [f"race-{i}" for i in range(5)]
        apply(
            kube_plane,
            *(served.run(name) for name in runs),
        )
        for name in runs:
            wait_phase(kube_plane, name, ns, "Succeeded", log=operator.log_tail)
    finally:
        twin.stop()
    assert sorted(j["metadata"]["name"] for j in _rayjobs(kube_plane, ns)) == [
        f"tr-{name}" for name in runs
    ]
    for name in runs:
        changes = [e for e in events_for(kube_plane, name, ns) if e["reason"] == "Succeeded"]
        assert changes, name


def test_a_run_deleted_while_the_operator_is_down_goes_with_its_rayjob(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    executor: LocalRayJobExecutor,
    prepared_artifact: Callable[[str], None],
) -> None:
    ns = served.name
    with executor.hold():
        apply(
            kube_plane,
            served.run("doomed"),
        )
        wait_phase(kube_plane, "doomed", ns, "Running", log=operator.log_tail)
        running = get(kube_plane, "trainingrun", "doomed", ns)
        # No finalizer (kopf would add one for a timer): nothing waits for the operator.
        assert running is not None and not running["metadata"].get("finalizers")
        operator.stop()
        try:
            kube_plane.kubectl("delete", "tr", "doomed", "-n", ns, "--wait=true", "--timeout=60s")
            # The owner reference is enough for the real garbage collector.
            wait_for(
                "the RayJob to be collected",
                lambda: get(kube_plane, "rayjob", "tr-doomed", ns) is None,
            )
        finally:
            operator.start()


def test_a_rayjob_deleted_mid_run_fails_the_run_and_is_not_made_again(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    executor: LocalRayJobExecutor,
    prepared_artifact: Callable[[str], None],
) -> None:
    ns = served.name
    with executor.hold():
        apply(kube_plane, served.run("orphaned"))
        wait_phase(kube_plane, "orphaned", ns, "Running", log=operator.log_tail)
        kube_plane.kubectl("delete", "rayjob", "tr-orphaned", "-n", ns, "--wait=true")
        # Noticed from the RayJob's DELETED event, well before the resync timer (60 s).
        lost = wait_phase(kube_plane, "orphaned", ns, "Failed", timeout=30, log=operator.log_tail)
    reason, message = (
        condition(lost, "Succeeded")["reason"],
        condition(lost, "Succeeded")["message"],
    )
    assert reason == "RayJobLost" and "RayJob tr-orphaned is gone (deleted)" in message
    assert get(kube_plane, "rayjob", "tr-orphaned", ns) is None


@pytest.mark.parametrize(
    ("spec_change", "field", "reason"),
    [
        ({"datasetUri": "file:///data/repos.parquet"}, "spec.datasetUri", "UnsupportedURIScheme"),
        ({"storageSecretRef": {"name": "nope"}}, "spec.storageSecretRef.name", "SecretNotFound"),
        (
            {"datasetUri": "s3://{bucket}/data/missing.parquet"},
            "spec.datasetUri",
            "DatasetNotFound",
        ),
    ],
)
def test_input_only_the_operator_can_judge_fails_without_a_rayjob(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    spec_change: dict[str, object],
    field: str,
    reason: str,
) -> None:
    ns = served.name
    change = {
        k: v.replace("{bucket}", served.bucket) if isinstance(v, str) else v
        for k, v in spec_change.items()
    }
    apply(
        kube_plane,
        served.run("bad", **change),
    )
    failed = wait_phase(kube_plane, "bad", ns, "Failed", log=operator.log_tail)
    invalid = condition(failed, "InputValid")
    assert (invalid["status"], invalid["reason"]) == ("False", reason)
    assert invalid["message"].startswith(f"{field}: ")
    (event,) = [e for e in events_for(kube_plane, "bad", ns) if e["type"] == "Warning"]
    assert event["reason"] == reason and field in event["message"]
    assert _rayjobs(kube_plane, ns) == []


def test_the_example_works_as_written(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    prepared_artifact: Callable[[str], None],
) -> None:
    ns = served.name
    # What the README asks for before applying it: the bucket and its dataset, and the Secret.
    bucket = "starcast"
    served.s3.create_bucket(Bucket=bucket)
    served.s3.copy_object(
        Bucket=bucket,
        Key="datasets/repos.parquet",
        CopySource={"Bucket": served.bucket, "Key": "data/repos.parquet"},
    )
    kube_plane.kubectl(
        "create", "secret", "generic", "starcast-storage", "-n", ns,
        f"--from-literal=AWS_ACCESS_KEY_ID={ACCESS_KEY}",
        f"--from-literal=AWS_SECRET_ACCESS_KEY={SECRET_KEY}",
    )  # fmt: skip
    kube_plane.kubectl("apply", "-n", ns, "-f", str(REPO_ROOT / "examples" / "trainingrun.yaml"))
    done = wait_phase(kube_plane, "nightly", ns, "Succeeded", log=operator.log_tail)
    assert done["model"]["uri"].startswith(f"s3://{bucket}/models/{ns}/nightly-")


def test_metrics_and_liveness(operator: OperatorProcess, served: TrainingNamespace) -> None:
    assert operator.get(operator.liveness_url) is not None
    text = operator.get(operator.metrics_url) or ""
    for family in (
        "starcast_operator_reconciles_total",
        "starcast_operator_reconcile_duration_seconds_bucket",
        "starcast_operator_rayjobs_created_total",
        'starcast_operator_trainingruns{phase="Succeeded"}',
    ):
        assert family in text, text
