"""Where starcast leans on kopf beyond its public API, in one place, for kopf versions tested.

- `APINotFoundError`: kopf.operator() ends with it when a watched resource's API is deleted;
  kopf exports no public name for it (kopf._cogs is private).
- `PostingContext`: kopf's Event queue is a context variable kopf sets only around an object's
  handlers; work outside them (the work queue's) posts Events from a copy of a captured one.

pyproject.toml bounds kopf below `KOPF_BELOW` (a test keeps the two equal and the installed
kopf inside): a kopf past it may move either, and is tested before the bound moves.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Final, TypeVar

from kopf._cogs.clients.errors import APINotFoundError

__all__ = ["KOPF_BELOW", "KOPF_FROM", "APINotFoundError", "PosterNotReadyError", "PostingContext"]

KOPF_FROM: Final = "1.37"
KOPF_BELOW: Final = "1.46"

T = TypeVar("T")


class PosterNotReadyError(Exception):
    """No kopf handler has run yet, so there is no Event queue to post to: try again soon."""


class PostingContext:
    """Where work outside kopf's handlers (the work queue's) can post Events from.

    kopf's Event queue is a context variable that kopf sets only around each object's handlers,
    so a handler `capture`s its context once, and `run` calls a function in a copy of it.
    """

    def __init__(self) -> None:
        self._context: contextvars.Context | None = None

    def capture(self) -> None:
        """Call from a kopf resource handler."""
        if self._context is None:
            self._context = contextvars.copy_context()

    def run(self, fn: Callable[[], T]) -> T:
        if self._context is None:
            raise PosterNotReadyError("no kopf handler has run yet, so no Event can be queued")
        return self._context.copy().run(fn)
