"""`ModelRelease` (starcast.io/v1alpha1): roll a model out to the serving workers.

The schema only: the behaviour is in `starcast.operator.release`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import Field

from starcast.operator.models.common import (
    CONDITIONS_DESCRIPTION,
    DNS_LABEL_PATTERN,
    URI_PATTERN,
    Condition,
    WireModel,
)

INT_OR_PERCENT_PATTERN: Final = r"^([0-9]+|[0-9]{1,2}%|100%)$"
LABEL_VALUE_PATTERN: Final = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
# `name` or `namespace/name` (a DNS label, then a DNS subdomain).
TRAINING_RUN_REF_PATTERN: Final = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
)


class ModelSource(
    WireModel,
    json_schema_extra={
        "x-kubernetes-validations": [
            {
                "rule": "has(self.trainingRunRef) != (has(self.uri) || has(self.sha256))",
                "message": "give either uri and sha256, or trainingRunRef, not both",
            },
            {
                "rule": "has(self.uri) == has(self.sha256)",
                "message": "uri and sha256 go together: the digest is checked before loading",
            },
        ]
    },
):
    """Which model: an artifact URI with its digest, or a Succeeded TrainingRun's."""

    uri: str | None = Field(
        default=None, pattern=URI_PATTERN, max_length=2048, description="Artifact directory URI."
    )
    sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="sha256 of the model file."
    )
    training_run_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=317,
        pattern=TRAINING_RUN_REF_PATTERN,
        description="A Succeeded TrainingRun whose status gives uri and sha256: its name (in "
        "this namespace) or namespace/name (a namespace the operator watches).",
    )
    version: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=LABEL_VALUE_PATTERN,
        description="The version the workers' pods are labelled with; default: the TrainingRun's "
        "model version, or the first 12 characters of sha256.",
    )


def training_run_key(ref: str, namespace: str) -> tuple[str, str]:
    """(namespace, name) of a trainingRunRef: `name` is in `namespace`, the release's."""
    where, _, name = ref.rpartition("/")
    return (where or namespace, name)


class ReleaseTarget(WireModel):
    """The serving release whose worker Deployment receives the model (same namespace)."""

    release: str = Field(
        min_length=1,
        max_length=53,
        pattern=DNS_LABEL_PATTERN,
        description="The serving chart's Helm release: the workers carry "
        "`app.kubernetes.io/instance` = this and `app.kubernetes.io/component: worker`.",
    )


class StrategyType(StrEnum):
    ROLLING = "Rolling"
    CANARY = "Canary"


class RollingStrategy(
    WireModel,
    json_schema_extra={
        "x-kubernetes-validations": [
            {
                "rule": "!(self.maxSurge in ['0', '0%'] && self.maxUnavailable in ['0', '0%'])",
                "message": "maxSurge and maxUnavailable cannot both be 0: the rollout could "
                "never replace a pod",
            }
        ]
    },
):
    """Rolling update of the worker Deployment itself (applied to its `spec.strategy`)."""

    max_surge: str = Field(
        default="25%", pattern=INT_OR_PERCENT_PATTERN, description="Extra pods during the update."
    )
    max_unavailable: str = Field(
        default="0",
        pattern=INT_OR_PERCENT_PATTERN,
        description="Pods that may be unavailable during the update (0: never below N).",
    )


class AnalysisCheck(WireModel):
    """A PromQL query whose value is compared with a threshold."""

    name: str = Field(min_length=1, max_length=63, description="Name of the check.")
    query: str = Field(min_length=1, description="PromQL; `{{version}}` is the candidate's.")
    max: float | None = Field(default=None, description="Fail when the value exceeds this.")
    min: float | None = Field(default=None, description="Fail when the value is below this.")


class Analysis(WireModel):
    """Checks run against Prometheus while a canary step lasts."""

    prometheus_url: str = Field(pattern=r"^https?://.+", description="Prometheus base URL.")
    checks: list[AnalysisCheck] = Field(min_length=1, description="The checks to run.")
    interval_seconds: int = Field(default=30, ge=1, description="Seconds between measurements.")
    count: int = Field(default=5, ge=1, description="Measurements per step.")
    failure_limit: int = Field(default=1, ge=0, description="Failed measurements tolerated.")
    unreachable_timeout_seconds: int = Field(
        default=300,
        ge=1,
        description="How long Prometheus may stay unreachable during a step's analysis before "
        "the step fails (and the canary is rolled back): no data is no verdict.",
    )


class CanaryStep(
    WireModel,
    json_schema_extra={
        "x-kubernetes-validations": [
            {
                "rule": "!has(self.pause) || has(self.pause.durationSeconds) || "
                "(has(self.pause.untilPromoted) && self.pause.untilPromoted)",
                "message": "a pause needs durationSeconds or untilPromoted: true",
            }
        ]
    },
):
    """One step: set a weight, then pause, then (optionally) analyse."""

    set_weight: int = Field(ge=0, le=100, description="Percent of workers on the candidate.")
    pause: CanaryPause | None = Field(default=None, description="Wait before the next step.")
    analysis: bool = Field(default=False, description="Run spec.analysis during this step.")


class CanaryPause(WireModel):
    """How long a step waits."""

    duration_seconds: int | None = Field(default=None, ge=1, description="Seconds to wait.")
    until_promoted: bool | None = Field(
        default=None, description="Wait until someone promotes the release."
    )


class CanaryStrategy(
    WireModel,
    json_schema_extra={
        "x-kubernetes-validations": [
            {
                "rule": "self.steps.map(s, s.setWeight).isSorted()",
                "message": "canary weights must not decrease from one step to the next",
            }
        ]
    },
):
    """Canary Deployment beside the stable one; traffic share is its share of consumers."""

    steps: list[CanaryStep] = Field(min_length=1, max_length=20, description="Ordered steps.")


class Strategy(
    WireModel,
    json_schema_extra={
        "x-kubernetes-validations": [
            {
                "rule": "self.type != 'Canary' || has(self.canary)",
                "message": "strategy type Canary needs strategy.canary.steps",
            }
        ]
    },
):
    """How the model reaches the workers."""

    type: StrategyType = Field(default=StrategyType.ROLLING, description="Rolling or Canary.")
    rolling: RollingStrategy | None = Field(default=None, description="Rolling parameters.")
    canary: CanaryStrategy | None = Field(default=None, description="Canary steps.")


class RollbackPolicy(WireModel):
    """What happens when the rollout fails."""

    automatic: bool = Field(default=True, description="Restore the previous model on failure.")


ANALYSIS_WITHOUT_CHECKS_MESSAGE: Final = (
    "a canary step has analysis: true but spec.analysis is not set: add spec.analysis "
    "(prometheusUrl and checks), or set that step's analysis to false"
)


class RolloutPolicy(
    WireModel,
    json_schema_extra={
        "x-kubernetes-validations": [
            {
                "rule": "has(self.analysis) || !has(self.strategy) || "
                "!has(self.strategy.canary) || "
                "self.strategy.canary.steps.all(s, !has(s.analysis) || !s.analysis)",
                "message": ANALYSIS_WITHOUT_CHECKS_MESSAGE,
                "fieldPath": ".analysis",
            }
        ]
    },
):
    """Where a model goes and how: what a ModelRelease and a TrainingRun's autoRelease share."""

    target: ReleaseTarget = Field(description="The workers that serve it.")
    strategy: Strategy = Field(default_factory=Strategy, description="Rolling or Canary.")
    analysis: Analysis | None = Field(default=None, description="Checks canary steps can run.")
    progress_deadline_seconds: int = Field(
        default=600, ge=1, description="Fail (and roll back) a rollout that makes no progress."
    )
    rollback: RollbackPolicy = Field(default_factory=RollbackPolicy, description="Rollback policy.")


class ModelReleaseSpec(RolloutPolicy):
    """Which model goes where, and how."""

    model: ModelSource = Field(description="The model to release.")


class ReleaseTemplate(RolloutPolicy):
    """A TrainingRun's release: the ModelRelease made on success if the model is good enough."""

    min_improvement: float = Field(
        default=0.0,
        ge=0,
        description="Release only when the new model's CV RMSLE is at least this much lower "
        "than the serving model's (absolute, in RMSLE units).",
    )


class GateDecision(StrEnum):
    RELEASED = "Released"
    HELD = "Held"


class ReleaseGate(WireModel):
    """Whether a TrainingRun's model was released, and the figures that decided it."""

    decision: GateDecision = Field(description="Released or Held.")
    candidate_rmsle: float = Field(description="The new model's CV RMSLE.")
    serving_rmsle: float | None = Field(
        default=None, description="The serving model's CV RMSLE (none: nothing serves yet)."
    )
    serving_version: str | None = Field(default=None, description="The version serving now.")
    min_improvement: float = Field(description="The margin the template asks for.")
    model_release: str | None = Field(default=None, description="The ModelRelease created.")
    message: str = Field(description="The decision, for people.")
    decided_at: datetime = Field(description="When the gate decided.")


class ReleasePhase(StrEnum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"


class Stage(StrEnum):
    """What the operator is doing inside the Progressing and Paused phases."""

    ROLLING_OUT = "RollingOut"
    CANARY = "Canary"
    PROMOTING = "Promoting"
    ROLLING_BACK = "RollingBack"


class Outcome(StrEnum):
    """How a version's time on the workers ended (history entries)."""

    PROGRESSING = "Progressing"
    SERVING = "Serving"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"
    ABORTED = "Aborted"


class ModelVersion(WireModel):
    """A resolved model: what the workers' env and pod label carry."""

    version: str = Field(description="The `starcast.io/model-version` pod label.")
    uri: str = Field(description="`STARCAST_MODEL_URI`.")
    sha256: str = Field(description="`STARCAST_MODEL_SHA256`.")


class HistoryEntry(WireModel):
    """One version that was (or was to be) served by the target's workers."""

    version: str = Field(description="Model version.")
    uri: str = Field(description="Artifact directory URI.")
    sha256: str = Field(description="sha256 of the model file.")
    release: str | None = Field(default=None, description="The ModelRelease that rolled it out.")
    started_at: datetime | None = Field(default=None, description="When its rollout began.")
    finished_at: datetime | None = Field(default=None, description="When its rollout ended.")
    outcome: Outcome = Field(description="Serving, Succeeded, RolledBack, Failed, ...")
    reason: str | None = Field(default=None, description="Why it ended that way.")


class VersionReplicas(WireModel):
    """Ready pods of one version."""

    version: str = Field(description="Model version.")
    deployment: str = Field(description="The Deployment whose pods these are.")
    replicas: int = Field(ge=0, description="Desired pods.")
    ready: int = Field(ge=0, description="Ready pods.")


class AnalysisRun(WireModel):
    """Measurements of the current step's analysis."""

    step: int = Field(ge=0, description="The step they belong to.")
    measurements: int = Field(default=0, ge=0, description="Measurements taken.")
    failures: int = Field(default=0, ge=0, description="Measurements that failed a check.")
    last_measured_at: datetime | None = Field(default=None, description="Last measurement.")
    last_message: str | None = Field(default=None, description="What the last one found.")
    unreachable_since: datetime | None = Field(
        default=None, description="Since when Prometheus has not answered (unset: it answers)."
    )


class ModelReleaseStatus(WireModel):
    """What the operator observed and where the release is."""

    phase: ReleasePhase | None = Field(default=None, description="Where the release is.")
    stage: Stage | None = Field(default=None, description="What the operator is doing now.")
    reason: str | None = Field(default=None, description="Why the phase is what it is.")
    message: str | None = Field(default=None, description="The same, for people.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description=CONDITIONS_DESCRIPTION,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The `metadata.generation` this status is for."
    )
    target_deployment: str | None = Field(default=None, description="The workers' Deployment.")
    version: str | None = Field(default=None, description="The candidate model version.")
    stable_version: str | None = Field(
        default=None, description="The version the stable worker Deployment serves now."
    )
    candidate: ModelVersion | None = Field(default=None, description="The model released.")
    stable: ModelVersion | None = Field(default=None, description="The model to roll back to.")
    weight: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="The canary's share of the workers now, in percent of pods (a step's "
        "setWeight rounded to whole pods).",
    )
    current_step: int | None = Field(default=None, ge=0, description="Index of the canary step.")
    step_started_at: datetime | None = Field(default=None, description="When the step began.")
    analysis: AnalysisRun | None = Field(default=None, description="The step's analysis.")
    replicas: list[VersionReplicas] = Field(
        default_factory=list, description="Desired and ready pods per version."
    )
    started_at: datetime | None = Field(default=None, description="When the rollout began.")
    failure_observed_at: datetime | None = Field(
        default=None, description="When the operator saw the rollout fail."
    )
    rollback_started_at: datetime | None = Field(
        default=None, description="When the operator began restoring the stable model."
    )
    finished_at: datetime | None = Field(default=None, description="When the release ended.")
    gate: ReleaseGate | None = Field(
        default=None, description="For a release made by a TrainingRun: its gate's figures."
    )
    history: list[HistoryEntry] = Field(
        default_factory=list,
        description="Versions of the target's workers, oldest first; the last Succeeded (or "
        "Serving) entry before this release is what a rollback restores.",
    )


CanaryStep.model_rebuild()


class ModelRelease(WireModel):
    """The whole object as the reconcile reads it (metadata stays a plain mapping)."""

    spec: ModelReleaseSpec = Field(description="Which model goes where.")
    status: ModelReleaseStatus | None = Field(default=None, description="What happened.")
