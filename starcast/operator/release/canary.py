"""Canary steps: a second Deployment beside the stable one, at each step's share of consumers.

Workers pull from one queue, so a version's share of the traffic is its share of the
consumers. The stable Deployment keeps the replicas its HPA or KEDA gives it (the operator
never scales it); the canary gets c pods with c / (stable + c) = weight, recomputed from the
stable's replicas on every sync, so it follows the autoscaler.

A step: set the weight and wait until the canary's pods are Ready (readiness is always
checked: the canary Deployment carries the release's progress deadline), then run the
step's analysis (one measurement per interval, `count` of them) and wait out its pause (a
duration, or until promoted). Its start time and its measurements are in the status, so an
operator restarted mid-step resumes the same step where it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from starcast.operator import constants as c
from starcast.operator.models.modelrelease import AnalysisRun, CanaryStep, ReleasePhase, Stage
from starcast.operator.release import analysis
from starcast.operator.release.rollout import RolloutState, crash_looping, rollout_of
from starcast.operator.release.state import Sync
from starcast.operator.release.workers import (
    canary_manifest,
    canary_replicas,
    claim_apply,
    served_share,
)


def start(sync: Sync) -> None:
    assert sync.deployment is not None and sync.candidate is not None
    sync.deployment = sync.ctx.cluster.apply_deployment(
        claim_apply(sync.deployment, sync.name, sync.rolling)
    )
    sync.status.current_step = 0
    sync.status.step_started_at = None
    sync.progressing(Stage.CANARY, "CanaryStarted", f"canary of {sync.candidate.version}")
    sync.event(
        "CanaryStarted",
        f"canary of {sync.candidate.version} beside {sync.deployment['metadata']['name']}",
    )


def _steps(sync: Sync) -> list[CanaryStep]:
    assert sync.spec.strategy.canary is not None  # CEL: Canary needs steps
    return sync.spec.strategy.canary.steps


def step(sync: Sync, *, promote: Callable[[], None], fail: Callable[[str, str], None]) -> None:
    assert sync.deployment is not None and sync.candidate is not None
    status = sync.status
    steps = _steps(sync)
    index = status.current_step or 0
    if index >= len(steps) or steps[index].set_weight >= 100:
        promote()
        return
    current = steps[index]
    stable_replicas = int(sync.deployment["spec"].get("replicas") or 0)
    want = canary_replicas(stable_replicas, current.set_weight)
    existing = sync.canary()
    if existing is not None and not sync.owns(existing):
        sync.progressing(
            Stage.CANARY,
            "WaitingForCanary",
            f"{existing['metadata']['name']} belongs to another release; waiting for it to go",
        )
        return
    manifest = canary_manifest(sync.deployment, sync.candidate, want, sync.body)
    manifest["spec"]["progressDeadlineSeconds"] = sync.spec.progress_deadline_seconds
    if existing is None or int(existing["spec"].get("replicas") or 0) != want:
        existing = sync.ctx.cluster.apply_deployment(manifest)
    status.weight = served_share(stable_replicas, want)
    rollout = rollout_of(existing)
    selector = dict(manifest["spec"]["selector"]["matchLabels"])
    crash = crash_looping(sync.ctx.cluster.pods(sync.namespace, selector))
    if rollout.state is RolloutState.FAILED or crash is not None:
        fail("CanaryNotReady" if crash is None else "CrashLoop", crash or rollout.message)
        return
    if status.step_started_at is None:
        if rollout.state is not RolloutState.COMPLETE or rollout.ready < want:
            sync.progressing(Stage.CANARY, "CanaryScaling", rollout.message)
            return
        status.step_started_at = sync.now
        sync.event(
            "StepStarted",
            f"step {index}: {served_share(stable_replicas, want)}% of the workers on "
            f"{sync.candidate.version} ({want} canary, {stable_replicas} stable) for weight "
            f"{current.set_weight}%",
        )
    if not _analysis_done(sync, index, current, fail):
        return
    if not _pause_over(sync, current):
        return
    status.current_step = index + 1
    status.step_started_at = None
    status.analysis = None
    sync.event("StepCompleted", f"step {index} (weight {current.set_weight}%) passed")
    step(sync, promote=promote, fail=fail)


def _analysis_done(
    sync: Sync, index: int, current: CanaryStep, fail: Callable[[str, str], None]
) -> bool:
    spec = sync.spec.analysis
    if not current.analysis or spec is None:
        return True
    assert sync.candidate is not None
    status = sync.status
    run = status.analysis if status.analysis and status.analysis.step == index else None
    run = run or AnalysisRun(step=index)
    status.analysis = run
    if run.measurements >= spec.count:
        return True
    interval = timedelta(seconds=spec.interval_seconds)
    if run.last_measured_at is not None and sync.now - run.last_measured_at < interval:
        sync.progressing(Stage.CANARY, "Analysing", run.last_message or "measuring")
        return False
    try:
        results = analysis.measure(
            sync.ctx.http,
            spec,
            version=sync.candidate.version,
            stable=sync.status.stable.version if sync.status.stable else None,
        )
    except analysis.PrometheusUnreachableError as error:
        run.unreachable_since = run.unreachable_since or sync.now
        limit = spec.unreachable_timeout_seconds
        if sync.now - run.unreachable_since >= timedelta(seconds=limit):
            fail(
                "AnalysisUnavailable",
                f"step {index}: no analysis data for {limit}s (analysis.unreachableTimeoutSeconds)"
                f", so no verdict on {sync.candidate.version}: {error}",
            )
            return False
        sync.progressing(
            Stage.CANARY, "PrometheusUnreachable", f"{error}; fails after {limit}s without data"
        )
        return False
    run.unreachable_since = None
    run.measurements += 1
    run.last_measured_at = sync.now
    run.last_message = "; ".join(result.message for result in results)
    if not all(result.passed for result in results):
        run.failures += 1
    if run.failures > spec.failure_limit:
        fail(
            "AnalysisFailed",
            f"step {index}: {run.failures} failed measurements: {run.last_message}",
        )
        return False
    sync.progressing(Stage.CANARY, "Analysing", run.last_message)
    return run.measurements >= spec.count


def _pause_over(sync: Sync, current: CanaryStep) -> bool:
    pause = current.pause
    if pause is None:
        return True
    if sync.annotation(c.ANNOTATION_PROMOTE):
        sync.consumed_annotations.append(c.ANNOTATION_PROMOTE)
        sync.event("Promoted", f"step {sync.status.current_step}: promoted by a user")
        return True
    started = sync.status.step_started_at
    assert started is not None
    if pause.duration_seconds is not None:
        if sync.now - started >= timedelta(seconds=pause.duration_seconds):
            return True
        sync.progressing(Stage.CANARY, "Pausing", f"pausing {pause.duration_seconds}s")
        return False
    sync.status.phase = ReleasePhase.PAUSED
    sync.status.reason = "WaitingForPromotion"
    sync.status.message = (
        f"paused until promoted: kubectl annotate modelrelease {sync.name} "
        f"{c.ANNOTATION_PROMOTE}=true"
    )
    return False
