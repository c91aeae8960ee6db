"""A ModelRelease's history of versions: what is serving, and what a rollback restores."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from starcast.operator.models.modelrelease import HistoryEntry, ModelVersion, Outcome

# Entries kept: the newest ones (a long-lived target accumulates one per release).
MAX_ENTRIES: Final = 20
GOOD_OUTCOMES: Final = frozenset({Outcome.SUCCEEDED, Outcome.SERVING})


def seeded(previous: list[HistoryEntry], serving: ModelVersion | None) -> list[HistoryEntry]:
    """The history a new release starts from: its predecessor's, plus what serves now."""
    history = list(previous)
    if serving is not None and (not history or history[-1].sha256 != serving.sha256):
        history.append(
            HistoryEntry(
                version=serving.version,
                uri=serving.uri,
                sha256=serving.sha256,
                outcome=Outcome.SERVING,
                reason="ServingBeforeRelease",
            )
        )
    return history


def superseded(previous: list[HistoryEntry]) -> list[HistoryEntry]:
    """A predecessor's history as its successor inherits it (its rollout was superseded)."""
    return [
        entry.model_copy(update={"outcome": Outcome.SUPERSEDED, "reason": "Superseded"})
        if entry.outcome is Outcome.PROGRESSING
        else entry
        for entry in previous
    ]


def begin(
    history: list[HistoryEntry], model: ModelVersion, release: str, now: datetime
) -> list[HistoryEntry]:
    entry = HistoryEntry(
        version=model.version,
        uri=model.uri,
        sha256=model.sha256,
        release=release,
        started_at=now,
        outcome=Outcome.PROGRESSING,
    )
    return [*history, entry][-MAX_ENTRIES:]


def end(history: list[HistoryEntry], outcome: Outcome, reason: str, now: datetime) -> None:
    """Close this release's entry (the last one)."""
    if history and history[-1].outcome is Outcome.PROGRESSING:
        history[-1].outcome = outcome
        history[-1].reason = reason
        history[-1].finished_at = now


def rollback_target(history: list[HistoryEntry]) -> ModelVersion | None:
    """The last version that served successfully before this release's."""
    for entry in reversed(history[:-1]):
        if entry.outcome in GOOD_OUTCOMES:
            return ModelVersion(version=entry.version, uri=entry.uri, sha256=entry.sha256)
    return None
