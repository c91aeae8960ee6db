"""What the operator's one work queue holds: a key per object and per kind of work on it.

Keys, not events, are queued (the newest copy is read when a key is taken), so each kind of
work gets a key type of its own and the queue's deduplication works per object and per work.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class _ObjectKey:
    """An object by namespace and name; keys of two kinds never equal (dataclass equality
    compares the class), so one object's two kinds of work are queued apart."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class RunKey(_ObjectKey):
    """A TrainingRun to reconcile: by name, as the newest copy is read when it is taken."""


@dataclass(frozen=True)
class ReleaseKey(_ObjectKey):
    """A ModelRelease to reconcile."""


@dataclass(frozen=True)
class GateKey(_ObjectKey):
    """A Succeeded TrainingRun with autoRelease whose release gate has not decided yet."""


Key = RunKey | ReleaseKey | GateKey
