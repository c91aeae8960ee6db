"""`starcast up`: broker, model, workers and frontend on this machine, until Ctrl-C."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from starcast.up.stack import Stack

logger = logging.getLogger(__name__)

# Settings fields and the option that sets each, for one-line errors.
OPTION_OF = {
    "model_uri": "--model",
    "workers": "--workers",
    "host": "--host",
    "port": "--port",
    "state_dir": "--state-dir",
}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGINT and SIGTERM take the way out of Ctrl-C: every `finally` below stops what it started.
    raise KeyboardInterrupt


def handle_stop_signals() -> None:
    """Ctrl-C and SIGTERM stop the stack, even when `up` was started with them ignored (a shell
    runs a background job with SIGINT ignored, and `signal` leaves an ignored SIGINT alone)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)


def up(
    model: str = typer.Option(
        None,
        "--model",
        help="Model artifact URI to serve [env STARCAST_MODEL_URI]. "
        "Default: <state dir>/models/sample, trained on the bundled sample if absent.",
    ),
    workers: int = typer.Option(
        None, help="Worker processes [env STARCAST_WORKERS; default cores-1, at least 2]."
    ),
    host: str = typer.Option(None, help="Frontend address [env STARCAST_HOST, default 127.0.0.1]."),
    port: int = typer.Option(None, help="Frontend port [env STARCAST_PORT, default 5100]."),
    state_dir: str = typer.Option(
        None,
        help="Models, logs and run files "
        "[env STARCAST_STATE_DIR, default $XDG_DATA_HOME/starcast].",
    ),
) -> None:
    """Run the whole pipeline on this machine: broker, model, workers and frontend. Ctrl-C stops."""
    from pydantic import ValidationError

    from starcast.artifact import ArtifactError
    from starcast.dataset import DatasetError
    from starcast.settings_errors import settings_error
    from starcast.training.executors import ExecutorError
    from starcast.up.broker import BrokerUnreachableError, provide_broker
    from starcast.up.listener import PortTakenError, bind_listener
    from starcast.up.model import ensure_model
    from starcast.up.processes import WaitError
    from starcast.up.rabbitmq import RabbitMQError
    from starcast.up.settings import RunDirs, UpSettings
    from starcast.up.stack import Stack
    from starcast.up.supervisor import CrashLoopError

    overrides: dict[str, Any] = {
        name: value
        for name, value in {
            "model_uri": model,
            "workers": workers,
            "host": host,
            "port": port,
            "state_dir": Path(state_dir) if state_dir else None,
        }.items()
        if value is not None
    }
    try:
        settings = UpSettings(**overrides)
    except ValidationError as error:
        typer.echo(settings_error(error, OPTION_OF), err=True)
        raise typer.Exit(code=2) from error
    try:
        listener = bind_listener(settings.host, settings.port)  # before anything starts
    except PortTakenError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error
    handle_stop_signals()  # before anything starts: a Ctrl-C then stops what did
    run_dirs = RunDirs.new(settings.state_dir)
    logs_dir = run_dirs.logs
    try:
        with listener, provide_broker(settings.broker_url, logs_dir) as provided:
            model_uri = settings.resolved_model_uri
            manifest = ensure_model(model_uri)  # a private broker boots meanwhile
            typer.echo(f"model: {manifest.model_version} from {model_uri}")
            broker = provided.ready()
            typer.echo(f"broker: {broker.description}")
            stack = Stack(
                settings,
                broker,
                model_uri,
                manifest,
                listener,
                broker_server=provided.server,
                run_dirs=run_dirs,
            )
            try:
                stack.start()
                _announce(stack)
                stack.supervise()
            finally:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(signum, signal.SIG_IGN)  # let the shutdown finish
                typer.echo("stopping: frontend, workers, broker ...")
                stack.stop()
    except KeyboardInterrupt:
        typer.echo("stopped")
        return
    except (
        WaitError,
        RabbitMQError,
        BrokerUnreachableError,
        ArtifactError,
        DatasetError,
        ExecutorError,
        CrashLoopError,
    ) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error


def _announce(stack: Stack) -> None:
    urls = stack.urls
    typer.echo(
        "\n".join(
            [
                f"starcast is up: {len(stack.workers)} worker(s), logs in {stack.logs_dir}",
                f"  welcome page  {urls.home}",
                f"  predictions   {urls.predictions}",
                f"  API           POST {urls.api}  (docs {urls.docs})",
                f"  metrics       {urls.metrics}",
                "Ctrl-C stops everything.",
            ]
        )
    )
