"""One sync of one ModelRelease: what it read, what it decided, the Events it owes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from starcast.operator import constants as c
from starcast.operator.models.common import Condition, ConditionStatus, next_condition
from starcast.operator.models.modelrelease import (
    ModelReleaseSpec,
    ModelReleaseStatus,
    ModelVersion,
    Outcome,
    ReleasePhase,
    RollingStrategy,
    Stage,
)
from starcast.operator.release import history
from starcast.operator.release.kube import Manifest, ReleaseCluster
from starcast.operator.release.workers import canary_name

TERMINAL_PHASES = frozenset(
    {
        ReleasePhase.SUCCEEDED,
        ReleasePhase.ROLLED_BACK,
        ReleasePhase.FAILED,
        ReleasePhase.SUPERSEDED,
    }
)

FAILED_PHASES = frozenset({ReleasePhase.ROLLED_BACK, ReleasePhase.FAILED})


@dataclass(frozen=True)
class ReleaseEvent:
    type: str
    reason: str
    message: str


@dataclass
class ReleaseContext:
    """What every sync needs: the API, an HTTP client for Prometheus."""

    cluster: ReleaseCluster
    http: httpx.Client
    # The namespaces the operator watches (and may read); empty: every namespace.
    watched: tuple[str, ...] = ()


@dataclass
class Sync:
    """The release being synced; the steps change `status` and queue `events`."""

    ctx: ReleaseContext
    body: Manifest
    spec: ModelReleaseSpec
    status: ModelReleaseStatus
    now: datetime
    deployment: Manifest | None = None
    candidate: ModelVersion | None = None
    events: list[ReleaseEvent] = field(default_factory=list)
    # Action annotations acted on, removed once the status that records it is written.
    consumed_annotations: list[str] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        namespace: str = self.body["metadata"]["namespace"]
        return namespace

    @property
    def name(self) -> str:
        name: str = self.body["metadata"]["name"]
        return name

    @property
    def rolling(self) -> RollingStrategy:
        """How the stable Deployment rolls (rollout, promotion, rollback): the spec's, or 0 down."""
        return self.spec.strategy.rolling or RollingStrategy()

    def annotation(self, key: str) -> bool:
        value = (self.body["metadata"].get("annotations") or {}).get(key, "")
        return str(value).lower() in ("true", "yes", "1")

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.events.append(ReleaseEvent("Warning" if warning else "Normal", reason, message))

    def canary(self) -> Manifest | None:
        assert self.deployment is not None
        return self.ctx.cluster.get_deployment(
            self.namespace, canary_name(self.deployment["metadata"]["name"])
        )

    def owns(self, obj: Manifest) -> bool:
        return any(
            ref.get("uid") == self.body["metadata"]["uid"]
            for ref in obj["metadata"].get("ownerReferences") or ()
        )

    def remove_canary(self) -> None:
        canary = self.canary() if self.deployment is not None else None
        if canary is not None and self.owns(canary):
            self.ctx.cluster.delete_deployment(self.namespace, canary["metadata"]["name"])

    def finish(
        self, phase: ReleasePhase, outcome: Outcome, reason: str, message: str, *, warning: bool
    ) -> None:
        """End the release: phase, history, reason, one Event."""
        self.status.phase = phase
        self.status.stage = None
        self.status.reason = reason
        self.status.message = message
        self.status.finished_at = self.now
        history.end(self.status.history, outcome, reason, self.now)
        self.event(reason, message, warning=warning)

    def progressing(self, stage: Stage, reason: str, message: str) -> None:
        self.status.phase = ReleasePhase.PROGRESSING
        self.status.stage = stage
        self.status.reason = reason
        self.status.message = message


def claim_of(deployment: Manifest) -> str | None:
    claim: str | None = (deployment["metadata"].get("annotations") or {}).get(c.ANNOTATION_RELEASE)
    return claim


def status_patch(status: ModelReleaseStatus) -> dict[str, Any]:
    """The whole status for a merge patch: cleared fields sent as null so they go away."""
    wire = status.wire()
    for name, info in ModelReleaseStatus.model_fields.items():
        key = info.alias or name
        wire.setdefault(key, None)
    return wire


@dataclass(frozen=True)
class _Observed:
    now: datetime
    generation: int | None


def _condition(
    previous: list[Condition], type_: str, true: bool, reason: str, message: str, at: _Observed
) -> Condition:
    """One condition; its lastTransitionTime moves only when its status does."""
    status = ConditionStatus.TRUE if true else ConditionStatus.FALSE
    return next_condition(
        previous, type_, status, reason, message, now=at.now, generation=at.generation
    )


def set_conditions(status: ModelReleaseStatus, now: datetime, generation: int | None) -> None:
    """The phase as conditions (`kubectl wait --for=condition=Complete` and the like).

    Progressing: the release is still moving (or waiting); Paused: a canary step waits to be
    promoted; Complete: the candidate serves on every worker; Failed: it does not and will not
    (rolled back or failed), so `kubectl wait --for=condition=Failed` ends. The reason is the
    status'.
    """
    phase = status.phase or ReleasePhase.PENDING
    reason, message = status.reason or phase.value, status.message or ""
    at = _Observed(now.replace(microsecond=0), generation)
    previous = status.conditions
    status.conditions = [
        _condition(previous, "Progressing", phase not in TERMINAL_PHASES, reason, message, at),
        _condition(previous, "Paused", phase is ReleasePhase.PAUSED, reason, message, at),
        _condition(previous, "Complete", phase is ReleasePhase.SUCCEEDED, reason, message, at),
        _condition(previous, "Failed", phase in FAILED_PHASES, reason, message, at),
    ]
