"""`starcast serve frontend` and `starcast serve worker`: the two serving processes (one per image).

Both are configured by STARCAST_* environment variables (see settings.py); options given here
override them. Heavy imports stay inside the commands so `starcast --help` stays fast.
"""

from __future__ import annotations

import logging
import math
import socket
import sys
from typing import Any

import typer

logger = logging.getLogger(__name__)

# The frontend's broker threads (publisher, replies) wait for the GIL behind the event loop; at
# Python's default 5 ms switch interval that wait lands on every batch's round trip.
FRONTEND_GIL_SWITCH_S = 0.001

# Settings fields and the option that sets each, for one-line errors (the others are variables).
FRONTEND_OPTIONS = {"host": "--host", "port": "--port"}
WORKER_OPTIONS = {
    "model_uri": "--model",
    "model_sha256": "--model-sha256",
    "worker_concurrency": "--concurrency",
}

serve = typer.Typer(
    name="serve",
    help="Run the serving processes: the HTTP frontend and the Celery workers.",
    no_args_is_help=True,
)


def _overrides(**options: Any) -> dict[str, Any]:
    return {name: value for name, value in options.items() if value is not None}


@serve.command()
def frontend(
    host: str = typer.Option(None, help="Address to listen on [env STARCAST_HOST]."),
    port: int = typer.Option(None, help="Port to listen on [env STARCAST_PORT, default 5100]."),
) -> None:
    """The HTTP frontend: pages, JSON API, /healthz, /readyz, /metrics and /docs."""
    import uvicorn
    from pydantic import ValidationError

    from starcast.serving.app import create_app
    from starcast.serving.settings import FrontendSettings
    from starcast.settings_errors import settings_error

    try:
        settings = FrontendSettings(**_overrides(host=host, port=port))
    except ValidationError as error:
        typer.echo(settings_error(error, FRONTEND_OPTIONS, show_input=False), err=True)
        raise typer.Exit(code=2) from error
    lookup = None
    if settings.github_token is not None:  # prediction by owner/name
        # The one place the two components meet: this command plugs extraction's lookup into
        # the frontend's `starcast.github.RepositoryLookup` seam (.importlinter names it).
        from starcast.extraction.lookup import GitHubRepositoryLookup
        from starcast.extraction.settings import TokenError

        try:
            lookup = GitHubRepositoryLookup.for_token(
                settings.github_token,
                settings.github_graphql_url,
                timeout_s=settings.request_timeout_s,
            )
        except TokenError as error:
            typer.echo(f"error: STARCAST_GITHUB_TOKEN: {error}", err=True)
            raise typer.Exit(code=2) from error
    sys.setswitchinterval(FRONTEND_GIL_SWITCH_S)
    config = uvicorn.Config(
        create_app(settings, lookup=lookup),
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep starcast's logging configuration
        access_log=False,  # /metrics counts requests; a log line each costs the hot path
        timeout_graceful_shutdown=math.ceil(settings.request_timeout_s),
    )
    # An inherited socket (`starcast up`'s): socket() detects its family from the descriptor,
    # where uvicorn's own `fd` option would take it for a Unix socket.
    sockets = None if settings.listen_fd is None else [socket.socket(fileno=settings.listen_fd)]
    uvicorn.Server(config).run(sockets=sockets)


@serve.command()
def worker(
    model: str = typer.Option(None, help="Model artifact URI [env STARCAST_MODEL_URI]."),
    model_sha256: str = typer.Option(
        None,
        help="Expected sha256 of the model file, required [env STARCAST_MODEL_SHA256].",
    ),
    concurrency: int = typer.Option(
        None, help="Batches predicted at once (threads) [env STARCAST_WORKER_CONCURRENCY]."
    ),
) -> None:
    """A Celery worker: verifies the model, smoke-tests it, then predicts batches."""
    from pydantic import ValidationError

    from starcast.artifact import ArtifactError
    from starcast.serving.settings import WorkerSettings
    from starcast.serving.worker import SmokeTestError, run_worker
    from starcast.settings_errors import settings_error

    try:
        settings = WorkerSettings(
            **_overrides(model_uri=model, model_sha256=model_sha256, worker_concurrency=concurrency)
        )
    except ValidationError as error:
        typer.echo(settings_error(error, WORKER_OPTIONS, show_input=False), err=True)
        raise typer.Exit(code=2) from error
    try:
        code = run_worker(settings, log_level=logging.getLevelName(logging.getLogger().level))
    except (ArtifactError, SmokeTestError) as error:
        typer.echo(f"error: the worker will not serve this model: {error}", err=True)
        raise typer.Exit(code=3) from error
    raise typer.Exit(code=code)
