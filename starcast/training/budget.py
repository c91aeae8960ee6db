"""The search budgets, apart from the config model, so the CLI lists them without importing it."""

from __future__ import annotations

from enum import StrEnum


class Budget(StrEnum):
    """How much of the search space to try: `quick` for demos and tests, `full` for releases."""

    QUICK = "quick"
    STANDARD = "standard"
    FULL = "full"
