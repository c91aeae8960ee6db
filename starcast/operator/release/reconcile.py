"""A ModelRelease's reconcile: level-triggered, every decision from what is observed now.

Order, like KubeRay's: resolve the model and the workers (or wait, saying for what), start
(claim the workers, record the stable model), then the stage's step: follow the rollout, walk
the canary steps, or follow the rollback. The state that must survive an operator restart
(the step, when it began, the analysis' counts, the history) lives in the status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from pydantic import ValidationError

from starcast.operator import constants as c
from starcast.operator.cluster import ConflictError
from starcast.operator.models.modelrelease import (
    HistoryEntry,
    ModelRelease,
    ModelReleaseStatus,
    ModelVersion,
    Outcome,
    ReleaseGate,
    ReleasePhase,
    Stage,
    StrategyType,
    VersionReplicas,
    training_run_key,
)
from starcast.operator.release import canary, history
from starcast.operator.release.kube import Manifest
from starcast.operator.release.rollout import RolloutState, crash_looping, rollout_of
from starcast.operator.release.state import (
    TERMINAL_PHASES,
    ReleaseContext,
    ReleaseEvent,
    Sync,
    claim_of,
    set_conditions,
    status_patch,
)
from starcast.operator.release.workers import WorkersError, deployed_model, model_apply

logger = logging.getLogger(__name__)

STATUS_WRITE_ATTEMPTS: Final = 5


@dataclass(frozen=True)
class SyncResult:
    phase: ReleasePhase | None = None
    events: list[ReleaseEvent] = field(default_factory=list)
    uid: str | None = None  # of the release synced (its Events name it)


class WaitingError(Exception):
    """Something the release needs is not there yet; the status says what."""


def sync_model_release(namespace: str, name: str, ctx: ReleaseContext) -> SyncResult:
    body = ctx.cluster.get_model_release(namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return SyncResult()
    try:
        release = ModelRelease.model_validate(
            {"spec": body.get("spec"), "status": body.get("status")}
        )
    except ValidationError as error:
        logger.error("ModelRelease %s/%s: %s", namespace, name, error)
        return SyncResult()
    status = release.status or ModelReleaseStatus()
    uid = body["metadata"]["uid"]
    if status.phase in TERMINAL_PHASES:
        return SyncResult(status.phase, uid=uid)
    sync = Sync(ctx, body, release.spec, status, datetime.now(UTC))
    status.observed_generation = body["metadata"].get("generation")
    try:
        _step(sync)
    except (WaitingError, WorkersError) as error:
        status.phase = status.phase or ReleasePhase.PENDING
        if status.phase is ReleasePhase.PENDING:
            status.reason, status.message = type(error).__name__.removesuffix("Error"), str(error)
    _observe_replicas(sync)
    set_conditions(status, sync.now, status.observed_generation)
    written = _write_status(ctx, body, status)
    if written is not None:
        for key in sync.consumed_annotations:
            ctx.cluster.remove_annotation(namespace, name, key)
    for event in sync.events:
        logger.info("ModelRelease %s/%s: %s: %s", namespace, name, event.reason, event.message)
    return SyncResult(status.phase, sync.events, uid)


def _write_status(
    ctx: ReleaseContext, body: Manifest, status: ModelReleaseStatus
) -> Manifest | None:
    """Write what this sync decided, after the side effects it already had.

    The status has one writer (this sync; the gate only adds `gate`), so a conflict is kopf's
    annotations or a user's: write the same status again over the fresh resourceVersion rather
    than lose what was just applied to the workers.
    """
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    for _ in range(STATUS_WRITE_ATTEMPTS - 1):
        try:
            return ctx.cluster.write_model_release_status(
                namespace, name, body["metadata"]["resourceVersion"], status_patch(status)
            )
        except ConflictError:
            fresh = ctx.cluster.get_model_release(namespace, name)
            if fresh is None:
                return None
            body = fresh
            gate = (fresh.get("status") or {}).get("gate")
            if status.gate is None and gate is not None:
                status.gate = ReleaseGate.model_validate(gate)
    return ctx.cluster.write_model_release_status(
        namespace, name, body["metadata"]["resourceVersion"], status_patch(status)
    )


def _resolve(sync: Sync) -> ModelVersion:
    model = sync.spec.model
    if model.uri is not None and model.sha256 is not None:
        return ModelVersion(
            version=model.version or model.sha256[:12], uri=model.uri, sha256=model.sha256
        )
    assert model.training_run_ref is not None
    namespace, run_name = training_run_key(model.training_run_ref, sync.namespace)
    ref = f"{namespace}/{run_name}"
    watched = sync.ctx.watched
    if watched and namespace not in watched:
        raise WorkersError(
            f"trainingRunRef {model.training_run_ref}: namespace {namespace} is not one the "
            f"operator watches ({', '.join(watched)}), so it may not read that run; add "
            f"{namespace} to the operator chart's watch.namespaces, or release a run of "
            f"{', '.join(watched)}"
        )
    run = sync.ctx.cluster.get_training_run(namespace, run_name)
    if run is None:
        raise WaitingError(f"TrainingRun {ref} does not exist (yet)")
    run_status = run.get("status") or {}
    if run_status.get("phase") == "Failed":
        raise WorkersError(f"TrainingRun {ref} failed: it has no model")
    found = run_status.get("model")
    if run_status.get("phase") != "Succeeded" or not found:
        raise WaitingError(f"TrainingRun {ref} has not succeeded yet")
    return ModelVersion(
        version=model.version or found["version"], uri=found["uri"], sha256=found["sha256"]
    )


def _workers(sync: Sync) -> Manifest:
    release = sync.spec.target.release
    found = sync.ctx.cluster.worker_deployments(sync.namespace, release)
    if not found:
        raise WaitingError(
            f"no worker Deployment in {sync.namespace} with {c.LABEL_INSTANCE}={release} and "
            f"{c.LABEL_COMPONENT}={c.WORKER_COMPONENT}: install the serving chart as {release!r}"
        )
    if len(found) > 1:
        names = ", ".join(d["metadata"]["name"] for d in found)
        raise WorkersError(f"several worker Deployments match release {release!r}: {names}")
    return found[0]


def _step(sync: Sync) -> None:
    status = sync.status
    try:
        sync.candidate = _resolve(sync)
    except WorkersError as error:
        sync.finish(
            ReleasePhase.FAILED, Outcome.FAILED, "ModelUnavailable", str(error), warning=True
        )
        return
    try:
        sync.deployment = _workers(sync)
    except WorkersError as error:
        sync.finish(
            ReleasePhase.FAILED, Outcome.FAILED, "WorkersAmbiguous", str(error), warning=True
        )
        return
    status.target_deployment = sync.deployment["metadata"]["name"]
    if status.phase in (None, ReleasePhase.PENDING):
        _start(sync)
        return
    claim = claim_of(sync.deployment)
    if claim != sync.name:
        sync.remove_canary()
        sync.finish(
            ReleasePhase.SUPERSEDED,
            Outcome.SUPERSEDED,
            "Superseded",
            f"ModelRelease {claim} took over Deployment {status.target_deployment}",
            warning=False,
        )
        return
    if sync.annotation(c.ANNOTATION_ABORT):
        sync.consumed_annotations.append(c.ANNOTATION_ABORT)
        if status.stage is not Stage.ROLLING_BACK:
            _fail(sync, "Aborted", "aborted by a user (annotation starcast.io/abort)")
            return
    if status.stage in (Stage.ROLLING_OUT, Stage.PROMOTING):
        _follow_rollout(sync)
    elif status.stage is Stage.CANARY:
        canary.step(sync, promote=lambda: _promote(sync), fail=lambda r, m: _fail(sync, r, m))
    elif status.stage is Stage.ROLLING_BACK:
        _follow_rollback(sync)


def _previous_history(sync: Sync, claim: str | None) -> list[HistoryEntry]:
    if not claim or claim == sync.name:
        return []
    other = sync.ctx.cluster.get_model_release(sync.namespace, claim)
    if other is None:
        return []
    try:
        return ModelReleaseStatus.model_validate(other.get("status") or {}).history
    except ValidationError:
        return []


def _newer_release_holds(sync: Sync, claim: str | None) -> bool:
    if not claim or claim == sync.name:
        return False
    other = sync.ctx.cluster.get_model_release(sync.namespace, claim)
    if other is None or (other.get("status") or {}).get("phase") in TERMINAL_PHASES:
        return False
    mine = sync.body["metadata"]["creationTimestamp"]
    theirs = other["metadata"]["creationTimestamp"]
    return bool(theirs > mine or (theirs == mine and claim > sync.name))


def _start(sync: Sync) -> None:
    """Claim the workers, record what serves now, begin the strategy."""
    assert sync.deployment is not None and sync.candidate is not None
    status, candidate = sync.status, sync.candidate
    claim = claim_of(sync.deployment)
    if _newer_release_holds(sync, claim):
        sync.finish(
            ReleasePhase.SUPERSEDED,
            Outcome.SUPERSEDED,
            "Superseded",
            f"ModelRelease {claim}, newer, holds Deployment {status.target_deployment}",
            warning=False,
        )
        return
    serving = deployed_model(sync.deployment)
    status.history = history.seeded(history.superseded(_previous_history(sync, claim)), serving)
    status.history = history.begin(status.history, candidate, sync.name, sync.now)
    # What a rollback restores: the last good version (not a superseded release's half-rollout).
    status.stable = history.rollback_target(status.history) or serving
    status.version = candidate.version
    status.candidate = candidate
    status.started_at = sync.now
    # A model already on the template (released before, or applied by an earlier attempt of
    # this sync whose status write was lost) is followed like any rollout: never assumed done.
    if sync.spec.strategy.type is StrategyType.CANARY and (
        serving is None or serving.sha256 != candidate.sha256
    ):
        canary.start(sync)
        return
    sync.deployment = sync.ctx.cluster.apply_deployment(
        model_apply(sync.deployment, candidate, sync.name, sync.rolling)
    )
    sync.progressing(Stage.ROLLING_OUT, "RollingOut", f"rolling out {candidate.version}")
    sync.event("RolloutStarted", f"rolling {candidate.version} out to {status.target_deployment}")


def _promote(sync: Sync) -> None:
    """Every canary step passed: the stable Deployment gets the candidate."""
    assert sync.deployment is not None and sync.candidate is not None
    sync.deployment = sync.ctx.cluster.apply_deployment(
        model_apply(sync.deployment, sync.candidate, sync.name, sync.rolling)
    )
    sync.status.weight = 100
    sync.progressing(Stage.PROMOTING, "Promoting", f"promoting {sync.candidate.version}")
    sync.event("Promoting", f"{sync.candidate.version} goes to {sync.status.target_deployment}")


def _failure(sync: Sync, deployment: Manifest, version: str) -> tuple[str, str] | None:
    """Why this rollout will not complete, or None while it may."""
    rollout = rollout_of(deployment)
    if rollout.state is RolloutState.FAILED:
        return "ProgressDeadlineExceeded", rollout.message
    selector = dict(deployment["spec"]["selector"].get("matchLabels") or {})
    selector[c.LABEL_MODEL_VERSION] = version
    crash = crash_looping(sync.ctx.cluster.pods(sync.namespace, selector))
    if crash is not None:
        return "CrashLoop", crash
    return None


def _deadline_passed(sync: Sync, since: datetime | None) -> bool:
    limit = timedelta(seconds=sync.spec.progress_deadline_seconds)
    return since is not None and sync.now - since > limit


def _follow_rollout(sync: Sync) -> None:
    assert sync.deployment is not None and sync.candidate is not None
    failure = _failure(sync, sync.deployment, sync.candidate.version)
    if failure is None and _deadline_passed(sync, sync.status.started_at):
        limit = sync.spec.progress_deadline_seconds
        failure = "ProgressDeadline", f"the rollout did not complete within {limit}s"
    if failure is not None:
        _fail(sync, *failure)
        return
    rollout = rollout_of(sync.deployment)
    serving = deployed_model(sync.deployment)
    if rollout.state is RolloutState.COMPLETE and serving == sync.candidate:
        sync.remove_canary()
        sync.status.weight = None
        sync.finish(
            ReleasePhase.SUCCEEDED,
            Outcome.SUCCEEDED,
            "Released",
            f"{sync.candidate.version} serves on all {rollout.replicas} workers",
            warning=False,
        )
        return
    sync.status.message = rollout.message


def _fail(sync: Sync, reason: str, message: str) -> None:
    """The rollout failed: restore the last good model (or end Failed when that is not allowed)."""
    assert sync.deployment is not None
    status = sync.status
    status.failure_observed_at = sync.now
    sync.remove_canary()
    status.weight = None
    if not sync.spec.rollback.automatic:
        sync.finish(ReleasePhase.FAILED, Outcome.FAILED, reason, message, warning=True)
        return
    if status.stage is Stage.CANARY:
        # The stable Deployment never left the stable model: removing the canary restores it.
        outcome = Outcome.ABORTED if reason == "Aborted" else Outcome.ROLLED_BACK
        sync.finish(ReleasePhase.ROLLED_BACK, outcome, reason, message, warning=True)
        return
    target = history.rollback_target(status.history)
    if target is None:
        sync.finish(
            ReleasePhase.FAILED,
            Outcome.FAILED,
            reason,
            f"{message}; no earlier model in the history to roll back to",
            warning=True,
        )
        return
    sync.deployment = sync.ctx.cluster.apply_deployment(
        model_apply(sync.deployment, target, sync.name, sync.rolling)
    )
    status.stable = target
    status.rollback_started_at = sync.now
    sync.progressing(Stage.ROLLING_BACK, reason, f"{message}; rolling back to {target.version}")
    sync.event(reason, f"{message}; rolling back to {target.version}", warning=True)


def _follow_rollback(sync: Sync) -> None:
    assert sync.deployment is not None
    status = sync.status
    target = status.stable
    assert target is not None
    rollout = rollout_of(sync.deployment)
    reason = status.reason or "RolledBack"
    if rollout.state is RolloutState.COMPLETE and deployed_model(sync.deployment) == target:
        sync.finish(
            ReleasePhase.ROLLED_BACK,
            Outcome.ROLLED_BACK,
            reason,
            f"{status.message}: done",
            warning=True,
        )
        return
    failure = _failure(sync, sync.deployment, target.version)
    if failure is None and _deadline_passed(sync, status.rollback_started_at):
        failure = "ProgressDeadline", "the rollback did not complete in time"
    if failure is not None:
        sync.finish(
            ReleasePhase.FAILED,
            Outcome.FAILED,
            "RollbackFailed",
            f"rolling back to {target.version} failed too ({failure[1]}); after {reason}",
            warning=True,
        )


def _observe_replicas(sync: Sync) -> None:
    """The pods of each version, and the version the stable Deployment serves now."""
    if sync.deployment is not None:
        serving = deployed_model(sync.deployment)
        sync.status.stable_version = serving.version if serving else None
    observed = []
    for deployment in (sync.deployment, sync.canary() if sync.deployment else None):
        if deployment is None:
            continue
        model = deployed_model(deployment)
        observed.append(
            VersionReplicas(
                version=model.version if model else "none",
                deployment=deployment["metadata"]["name"],
                replicas=int(deployment["spec"].get("replicas") or 0),
                ready=int((deployment.get("status") or {}).get("readyReplicas") or 0),
            )
        )
    sync.status.replicas = observed
