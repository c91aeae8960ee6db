"""Where a Deployment's rollout is, read the way `kubectl rollout status` reads it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

# The Deployment controller's reason when progressDeadlineSeconds passed without progress.
PROGRESS_DEADLINE_EXCEEDED: Final = "ProgressDeadlineExceeded"
# A container restarting this often is crash-looping: the model will not come up.
CRASH_LOOP_RESTARTS: Final = 3


class RolloutState(StrEnum):
    PROGRESSING = "Progressing"
    COMPLETE = "Complete"
    FAILED = "Failed"


@dataclass(frozen=True)
class Rollout:
    """One look at a Deployment."""

    state: RolloutState
    replicas: int
    updated: int
    ready: int
    available: int
    message: str


def rollout_of(deployment: dict[str, Any]) -> Rollout:
    """Complete when the controller saw this generation and every pod is new and available."""
    spec, status = deployment.get("spec", {}), deployment.get("status") or {}
    desired = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    name = deployment["metadata"]["name"]
    observed = int(status.get("observedGeneration") or 0) >= int(
        deployment["metadata"].get("generation") or 0
    )
    # A condition from before the controller saw this generation is about the old template.
    for condition in (status.get("conditions") or ()) if observed else ():
        if condition.get("type") == "Progressing" and condition.get("reason") == (
            PROGRESS_DEADLINE_EXCEEDED
        ):
            return Rollout(
                RolloutState.FAILED,
                desired,
                updated,
                ready,
                available,
                f"Deployment {name}: {condition.get('message') or PROGRESS_DEADLINE_EXCEEDED}",
            )
    done = observed and updated >= desired and total == updated and available >= desired
    state = RolloutState.COMPLETE if done else RolloutState.PROGRESSING
    message = f"Deployment {name}: {updated}/{desired} updated, {available} available"
    return Rollout(state, desired, updated, ready, available, message)


def crash_looping(pods: list[dict[str, Any]]) -> str | None:
    """Why these pods will not come up (a container restarting in a loop), or None."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or ():
            waiting = (status.get("state") or {}).get("waiting") or {}
            restarts = int(status.get("restartCount") or 0)
            if waiting.get("reason") == "CrashLoopBackOff" or restarts >= CRASH_LOOP_RESTARTS:
                return (
                    f"pod {pod['metadata']['name']}: container {status.get('name')} "
                    f"restarted {restarts} times ({waiting.get('reason') or 'crashing'})"
                )
    return None
