"""Events on starcast's objects, queued to kopf's poster: no handler waits for an Event.

kopf posts them in the background, in order per object, with its own retries and backoff; an
Event that can't be posted is logged, never a reason to fail a reconcile (the status says it all).
"""

from __future__ import annotations

import contextvars
import logging
import socket
from collections.abc import Callable
from typing import TypeVar

import kopf

from starcast.operator import constants as c

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


def configure_posting(settings: kopf.OperatorSettings) -> None:
    """Only the Events the handlers post, not kopf's log lines; named for starcast."""
    settings.posting.enabled = True
    settings.posting.loggers = False  # retries of a run waiting for KubeRay would flood them
    settings.posting.level = logging.INFO
    settings.posting.reporting_component = c.MANAGER_NAME
    settings.posting.reporting_instance = socket.gethostname()
    settings.posting.event_name_prefix = f"{c.MANAGER_NAME}-"


def post(involved: dict[str, str], type_: str, reason: str, message: str) -> None:
    """Queue an Event about `involved` (apiVersion, kind, namespace, name, uid).

    Callable from a handler or from anything run in a copy of kopf's context.
    """
    kopf.event(
        kopf.Body(
            {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "metadata": {
                    "namespace": involved["namespace"],
                    "name": involved["name"],
                    "uid": involved["uid"],
                },
            }
        ),
        type=type_,
        reason=reason,
        message=message,
    )
