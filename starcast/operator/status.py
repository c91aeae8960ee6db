"""A TrainingRun's status, computed in one place from what the reconcile observed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from starcast.artifact import ModelManifest
from starcast.operator import constants as c
from starcast.operator.models.common import Condition, ConditionStatus, next_condition
from starcast.operator.models.trainingrun import (
    FamilyScore,
    ModelReference,
    Phase,
    RunMetrics,
    TrainingRunStatus,
)
from starcast.operator.rayjob import RayJobStatus

# Condition types.
KUBERAY_AVAILABLE: Final = "KubeRayAvailable"
INPUT_VALID: Final = "InputValid"
RAYJOB_CREATED: Final = "RayJobCreated"
SUCCEEDED: Final = "Succeeded"
# Job-style conditions, set when the run ends: `kubectl wait --for=condition=Complete` (or
# `=Failed`) ends on success (or failure).
COMPLETE: Final = "Complete"
FAILED: Final = "Failed"

TERMINAL_PHASES: Final = frozenset({Phase.SUCCEEDED, Phase.FAILED})
KUBERAY_MISSING_MESSAGE: Final = (
    "KubeRay is not installed: the rayjobs.ray.io CRD is absent. Install the KubeRay operator "
    "(helm repo add kuberay https://ray-project.github.io/kuberay-helm/ && helm install "
    f"kuberay-operator kuberay/kuberay-operator --version {c.KUBERAY_VERSION}); this run "
    "proceeds on its own once KubeRay is there"
)
RAYJOB_LOST: Final = "RayJobLost"


@dataclass(frozen=True)
class BadInput:
    """Something in the spec only the operator can judge is wrong: which field, and the fix."""

    field: str
    reason: str
    message: str


@dataclass(frozen=True)
class Observation:
    """What one reconcile saw; everything the status is computed from."""

    generation: int
    output_uri: str
    kuberay_installed: bool = True
    # The run's RayJob is gone (deleted, or with KubeRay's CRD) though the status names one.
    rayjob_lost: bool = False
    bad_input: BadInput | None = None
    rayjob_name: str | None = None
    rayjob: RayJobStatus | None = None
    rayjob_created_at: datetime | None = None
    manifest: ModelManifest | None = None
    artifact_error: str | None = None
    # Whole seconds, as metav1.Time has them: times in the status compare as they order.
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))


def _set(
    conditions: list[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    obs: Observation,
) -> list[Condition]:
    """Conditions with `type_` set; its lastTransitionTime moves only when its status does."""
    new = next_condition(
        conditions, type_, status, reason, message, now=obs.now, generation=obs.generation
    )
    return [cond for cond in conditions if cond.type != type_] + [new]


def _metrics(manifest: ModelManifest) -> RunMetrics:
    return RunMetrics(
        winner=manifest.winner.family,
        rmsle=manifest.winner.metrics.rmsle,
        r2_log=manifest.winner.metrics.r2_log,
        baseline_rmsle=manifest.baseline.rmsle,
        families=[
            FamilyScore(family=f.family, rmsle=f.metrics.rmsle, r2_log=f.metrics.r2_log)
            for f in manifest.families
        ],
    )


def _lost(
    previous: TrainingRunStatus, conds: list[Condition], update: dict[str, object], obs: Observation
) -> TrainingRunStatus:
    """Failed: a RayJob that disappeared is not made again, as a Job's lost pod counts as a
    failure when no retry is allowed. Its Ray cluster may still run and write the output URI
    (a delete with --cascade=orphan), and a rerun would silently double the bill; a new
    TrainingRun gets a new uid, so a new output URI."""
    how = (
        "with the rayjobs.ray.io CRD (KubeRay was removed)"
        if not obs.kuberay_installed
        else ("deleted")
    )
    message = (
        f"RayJob {previous.ray_job_name} is gone ({how}) while the run was "
        f"{(previous.phase or Phase.PENDING).value}: its training is lost and is not restarted; "
        "create a new TrainingRun to train again"
    )
    conds = _set(conds, SUCCEEDED, ConditionStatus.FALSE, RAYJOB_LOST, message, obs)
    return previous.model_copy(
        update={**update, "phase": Phase.FAILED, "conditions": conds, "completion_time": obs.now}
    )


def compute_status(previous: TrainingRunStatus, obs: Observation) -> TrainingRunStatus:
    """The status after `obs`; a terminal status never changes."""
    if previous.phase in TERMINAL_PHASES:
        return previous
    return _summarised(_next_status(previous, obs), obs)


def _summarised(status: TrainingRunStatus, obs: Observation) -> TrainingRunStatus:
    """The reason and message of the condition that explains the phase, the rounded RMSLE, and
    the Job-style Complete and Failed conditions once the run ended."""
    by_type = {cond.type: cond for cond in status.conditions}
    blocking = [
        by_type[type_]
        for type_ in (KUBERAY_AVAILABLE, INPUT_VALID)
        if type_ in by_type and by_type[type_].status is ConditionStatus.FALSE
    ]
    explaining = blocking[0] if blocking else by_type.get(SUCCEEDED)
    update: dict[str, object] = {
        "reason": explaining.reason if explaining else None,
        "message": explaining.message if explaining else None,
        "rmsle": f"{status.metrics.rmsle:.3f}" if status.metrics else None,
    }
    if status.phase in TERMINAL_PHASES and explaining is not None:
        conds = list(status.conditions)
        succeeded = status.phase is Phase.SUCCEEDED
        for type_, true in ((COMPLETE, succeeded), (FAILED, not succeeded)):
            state = ConditionStatus.TRUE if true else ConditionStatus.FALSE
            conds = _set(conds, type_, state, explaining.reason, explaining.message, obs)
        update["conditions"] = conds
    return status.model_copy(update=update)


def _waiting_detail(name: str, job: RayJobStatus) -> str:
    """What a run waiting on its RayJob waits for, in words (not a dash for a missing state)."""
    if not job.job_deployment_status:
        return f"RayJob {name} created; waiting for KubeRay to start its Ray cluster"
    states = f"jobDeploymentStatus {job.job_deployment_status}"
    if job.job_status:
        states += f", jobStatus {job.job_status}"
    return f"RayJob {name}: KubeRay reports {states}"


def _next_status(previous: TrainingRunStatus, obs: Observation) -> TrainingRunStatus:
    conds = list(previous.conditions)
    true, false, unknown = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN
    update: dict[str, object] = {
        "observed_generation": obs.generation,
        "output_uri": obs.output_uri,
    }
    if not obs.kuberay_installed:
        conds = _set(
            conds, KUBERAY_AVAILABLE, false, "CRDNotInstalled", KUBERAY_MISSING_MESSAGE, obs
        )
    if previous.ray_job_name and (obs.rayjob_lost or not obs.kuberay_installed):
        return _lost(previous, conds, update, obs)
    if not obs.kuberay_installed:
        return previous.model_copy(update={**update, "phase": Phase.PENDING, "conditions": conds})
    conds = _set(conds, KUBERAY_AVAILABLE, true, "CRDInstalled", "rayjobs.ray.io is served", obs)
    if obs.bad_input is not None:
        bad = obs.bad_input
        message = f"{bad.field}: {bad.message}"
        conds = _set(conds, INPUT_VALID, false, bad.reason, message, obs)
        conds = _set(conds, SUCCEEDED, false, bad.reason, message, obs)
        return previous.model_copy(
            update={
                **update,
                "phase": Phase.FAILED,
                "conditions": conds,
                "completion_time": obs.now,
            }
        )
    conds = _set(conds, INPUT_VALID, true, "Valid", "the spec's URIs and Secret check out", obs)
    job = obs.rayjob
    if obs.rayjob_name is None or job is None:
        return previous.model_copy(update={**update, "phase": Phase.PENDING, "conditions": conds})
    conds = _set(conds, RAYJOB_CREATED, true, "Created", f"RayJob {obs.rayjob_name}", obs)
    update |= {
        "ray_job_name": obs.rayjob_name,
        "job_status": job.job_status or None,
        "job_deployment_status": job.job_deployment_status or None,
        "start_time": previous.start_time or obs.rayjob_created_at or obs.now,
    }
    if job.failed:
        reason = job.reason or f"Job{(job.job_status or job.job_deployment_status).title()}"
        message = job.message or (
            f"RayJob {obs.rayjob_name} ended: KubeRay reports jobStatus "
            f"{job.job_status or '(none)'}, jobDeploymentStatus "
            f"{job.job_deployment_status or '(none)'}"
        )
        conds = _set(conds, SUCCEEDED, false, reason, message, obs)
        phase, update["completion_time"] = Phase.FAILED, obs.now
    elif job.succeeded and obs.manifest is not None:
        manifest = obs.manifest
        conds = _set(
            conds,
            SUCCEEDED,
            true,
            "ModelVerified",
            f"model {manifest.model_version} at {obs.output_uri}, sha256 verified",
            obs,
        )
        update |= {
            "metrics": _metrics(manifest),
            "model": ModelReference(
                uri=obs.output_uri, sha256=manifest.model_sha256, version=manifest.model_version
            ),
            "completion_time": obs.now,
        }
        phase = Phase.SUCCEEDED
    elif job.succeeded:
        message = f"the job succeeded but its artifact can't be used: {obs.artifact_error}"
        conds = _set(conds, SUCCEEDED, false, "ArtifactInvalid", message, obs)
        phase, update["completion_time"] = Phase.FAILED, obs.now
    else:
        phase = Phase.RUNNING if job.running else Phase.PENDING
        detail = _waiting_detail(obs.rayjob_name, job)
        conds = _set(conds, SUCCEEDED, unknown, phase.value, detail, obs)
    return previous.model_copy(update={**update, "phase": phase, "conditions": conds})


def phase_event(previous: Phase | None, status: TrainingRunStatus) -> tuple[str, str, str] | None:
    """(type, reason, message) of the Event a phase change deserves, or None."""
    if status.phase is None or status.phase == previous:
        return None
    succeeded = next((cond for cond in status.conditions if cond.type == SUCCEEDED), None)
    if status.phase == Phase.FAILED:
        reason = succeeded.reason if succeeded else "Failed"
        return "Warning", reason, succeeded.message if succeeded else "the run failed"
    if status.phase == Phase.SUCCEEDED and status.metrics and status.model:
        return (
            "Normal",
            "Succeeded",
            f"winner {status.metrics.winner}, RMSLE {status.metrics.rmsle:.3f}; "
            f"model {status.model.version} at {status.model.uri}",
        )
    if status.phase == Phase.PENDING:
        return "Normal", status.reason or "Pending", status.message or "waiting for the RayJob"
    return "Normal", status.phase.value, f"RayJob {status.ray_job_name} is running"
