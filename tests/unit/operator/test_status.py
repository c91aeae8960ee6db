"""compute_status: phase, conditions and results from what a reconcile observed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starcast.artifact import DatasetInfo, FamilyResult, Metrics, ModelManifest
from starcast.operator.models.trainingrun import Phase, TrainingRunStatus
from starcast.operator.rayjob import RayJobStatus
from starcast.operator.status import (
    KUBERAY_AVAILABLE,
    RAYJOB_LOST,
    SUCCEEDED,
    BadInput,
    Observation,
    compute_status,
    phase_event,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OUT = "s3://models/run"


def _obs(**fields: object) -> Observation:
    return Observation(generation=1, output_uri=OUT, now=T0, **fields)  # type: ignore[arg-type]


def _job(**status: str) -> dict[str, object]:
    return {"rayjob_name": "tr-run", "rayjob": RayJobStatus.model_validate(status)}


def _condition(status: TrainingRunStatus, type_: str) -> tuple[str, str, str]:
    cond = next(c for c in status.conditions if c.type == type_)
    return cond.status.value, cond.reason, cond.message


def _manifest() -> ModelManifest:
    def metrics(rmsle: float) -> Metrics:
        return Metrics(rmsle=rmsle, r2_log=0.5, mae_log=0.7, mdape=40.0)

    winner = FamilyResult(family="extra_trees", params={}, metrics=metrics(0.9))
    other = FamilyResult(family="ridge", params={}, metrics=metrics(1.2))
    return ModelManifest(
        model_version="20261201-120000-abcdef12",
        created_at=T0,
        features=[],
        cv_folds=3,
        winner=winner,
        families=[winner, other],
        baseline=metrics(1.6),
        dataset=DatasetInfo(uri="s3://d", sha256="0" * 64, rows=10),
        library_versions={},
        model_sha256="a" * 64,
    )


def test_without_kuberay_the_run_waits_and_says_how_to_install_it() -> None:
    status = compute_status(TrainingRunStatus(), _obs(kuberay_installed=False))
    assert status.phase == Phase.PENDING
    state, reason, message = _condition(status, KUBERAY_AVAILABLE)
    assert (state, reason) == ("False", "CRDNotInstalled")
    assert "helm install kuberay-operator" in message


def test_a_run_whose_rayjob_went_with_kuberay_fails_naming_it() -> None:
    running = compute_status(TrainingRunStatus(), _obs(**_job(jobDeploymentStatus="Running")))
    assert running.phase == Phase.RUNNING
    status = compute_status(running, _obs(kuberay_installed=False))
    assert status.phase == Phase.FAILED and status.completion_time == T0
    state, reason, message = _condition(status, SUCCEEDED)
    assert (state, reason) == ("False", RAYJOB_LOST)
    assert "RayJob tr-run" in message and "rayjobs.ray.io CRD" in message
    assert "while the run was Running" in message and "new TrainingRun" in message
    assert _condition(status, KUBERAY_AVAILABLE)[1] == "CRDNotInstalled"
    assert phase_event(Phase.RUNNING, status) == ("Warning", RAYJOB_LOST, message)


def test_a_deleted_rayjob_fails_the_run_instead_of_a_rerun() -> None:
    pending = compute_status(TrainingRunStatus(), _obs(**_job(jobDeploymentStatus="Initializing")))
    status = compute_status(pending, _obs(rayjob_lost=True))
    assert status.phase == Phase.FAILED
    _, reason, message = _condition(status, SUCCEEDED)
    assert reason == RAYJOB_LOST and "(deleted)" in message and "was Pending" in message


def test_bad_input_fails_with_the_field() -> None:
    bad = BadInput("spec.datasetUri", "DatasetNotFound", "no dataset at s3://x")
    status = compute_status(TrainingRunStatus(), _obs(bad_input=bad))
    assert status.phase == Phase.FAILED
    assert _condition(status, SUCCEEDED) == (
        "False",
        "DatasetNotFound",
        "spec.datasetUri: no dataset at s3://x",
    )
    assert status.ray_job_name is None


def test_success_needs_jobstatus_succeeded_and_a_verified_manifest() -> None:
    complete_only = compute_status(
        TrainingRunStatus(), _obs(**_job(jobDeploymentStatus="Complete"))
    )
    assert complete_only.phase == Phase.PENDING
    done = compute_status(
        TrainingRunStatus(),
        _obs(**_job(jobStatus="SUCCEEDED", jobDeploymentStatus="Complete"), manifest=_manifest()),
    )
    assert done.phase == Phase.SUCCEEDED
    assert done.model is not None and done.metrics is not None
    assert (done.model.uri, done.model.sha256) == (OUT, "a" * 64)
    assert (done.metrics.winner, done.metrics.rmsle, done.metrics.baseline_rmsle) == (
        "extra_trees",
        0.9,
        1.6,
    )
    assert [f.family for f in done.metrics.families] == ["extra_trees", "ridge"]
    assert done.job_status == "SUCCEEDED"


def test_success_with_a_broken_artifact_fails() -> None:
    status = compute_status(
        TrainingRunStatus(),
        _obs(**_job(jobStatus="SUCCEEDED"), artifact_error="sha256 mismatch"),
    )
    assert status.phase == Phase.FAILED
    assert _condition(status, SUCCEEDED)[1] == "ArtifactInvalid"


def test_failure_carries_kuberays_reason_and_message() -> None:
    status = compute_status(
        TrainingRunStatus(),
        _obs(
            **_job(
                jobStatus="FAILED",
                jobDeploymentStatus="Failed",
                reason="AppFailed",
                message="exit code 2",
            )
        ),
    )
    assert status.phase == Phase.FAILED
    assert _condition(status, SUCCEEDED) == ("False", "AppFailed", "exit code 2")
    assert phase_event(Phase.RUNNING, status) == ("Warning", "AppFailed", "exit code 2")


def test_terminal_status_never_changes() -> None:
    failed = TrainingRunStatus(phase=Phase.FAILED)
    assert compute_status(failed, _obs(**_job(jobStatus="SUCCEEDED"))) is failed


def test_transition_time_moves_only_with_the_condition_status() -> None:
    running = compute_status(TrainingRunStatus(), _obs(**_job(jobStatus="RUNNING")))
    later = Observation(
        generation=1,
        output_uri=OUT,
        now=T0 + timedelta(minutes=5),
        rayjob_name="tr-run",
        rayjob=RayJobStatus.model_validate({"jobStatus": "RUNNING"}),
    )
    again = compute_status(running, later)
    assert again == running
    assert phase_event(Phase.RUNNING, again) is None


def test_what_kubectl_get_shows_a_failed_run_why_and_kubectl_wait_ends() -> None:
    bad = BadInput("spec.storageSecretRef.name", "SecretNotFound", "Secret ns/s does not exist")
    status = compute_status(TrainingRunStatus(), _obs(bad_input=bad))
    assert (status.reason, status.message) == (
        "SecretNotFound",
        "spec.storageSecretRef.name: Secret ns/s does not exist",
    )
    assert _condition(status, "Failed")[:2] == ("True", "SecretNotFound")
    assert _condition(status, "Complete")[0] == "False"


def test_a_succeeded_run_shows_its_rmsle_rounded_and_is_complete() -> None:
    done = compute_status(
        TrainingRunStatus(), _obs(manifest=_manifest(), **_job(jobStatus="SUCCEEDED"))
    )
    assert done.metrics is not None and done.metrics.rmsle == 0.9
    assert done.rmsle == "0.900"
    assert _condition(done, "Complete")[:2] == ("True", "ModelVerified")
    assert _condition(done, "Failed")[0] == "False"


def test_a_waiting_run_says_what_it_waits_for_in_words() -> None:
    pending = compute_status(TrainingRunStatus(), _obs(**_job()))
    assert pending.phase == Phase.PENDING
    assert pending.message == "RayJob tr-run created; waiting for KubeRay to start its Ray cluster"
    event = phase_event(None, pending)
    assert event is not None and "-" not in event[2].split()
    assert event[1] == "Pending"
    assert not any(c.type in ("Complete", "Failed") for c in pending.conditions)
    without = compute_status(TrainingRunStatus(), _obs(kuberay_installed=False))
    assert without.reason == "CRDNotInstalled" and "helm install" in (without.message or "")
