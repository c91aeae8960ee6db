"""What the operator's one work queue holds: a key per object and per kind of work on it.

Keys, not events, are queued (the newest copy is read when a key is taken), so each kind of
work gets a key type of its own and the queue's deduplication works per object and per work.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunKey:
    """A TrainingRun to reconcile: by name, as the newest copy is read when it is taken."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ReleaseKey:
    """A ModelRelease to reconcile."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class GateKey:
    """A Succeeded TrainingRun with autoRelease whose release gate has not decided yet."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


Key = RunKey | ReleaseKey | GateKey
