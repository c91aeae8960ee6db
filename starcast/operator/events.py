"""Events on starcast's objects, queued to kopf's poster: no handler waits for an Event.

kopf posts them in the background, in order per object, with its own retries and backoff; an
Event that can't be posted is logged, never a reason to fail a reconcile (the status says it all).
"""

from __future__ import annotations

import logging
import socket

import kopf

from starcast.operator import constants as c
from starcast.operator.kopf_compat import PosterNotReadyError, PostingContext

__all__ = ["PosterNotReadyError", "PostingContext", "configure_posting", "post"]


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
