"""The search budgets: the trainer's `--budget` and a TrainingRun's `spec.budget`, one contract.

In the shared core because two components speak it (the operator writes it into a RayJob's
entrypoint, the trainer reads it), and light so the CLI lists them without importing the search.
"""

from __future__ import annotations

from enum import StrEnum


class Budget(StrEnum):
    """How much of the search space to try: `quick` for demos and tests, `full` for releases."""

    QUICK = "quick"
    STANDARD = "standard"
    FULL = "full"
