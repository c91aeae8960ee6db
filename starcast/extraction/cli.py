"""`starcast extract run|export|status`. Heavy modules are imported inside the commands."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from starcast.extraction.run import RunSummary

DEFAULT_DB = "sqlite:///starcast-extract.sqlite"  # a file in the working directory
DB_OPTION = typer.Option(
    DEFAULT_DB, "--db", envvar="STARCAST_EXTRACT_DB", help="SQLAlchemy URL of the database."
)

app = typer.Typer(
    name="extract",
    help="Collect repositories and their features from GitHub's GraphQL API.",
    no_args_is_help=True,
)


@app.command("run")
def run_command(
    db: str = DB_OPTION,
    min_stars: int = typer.Option(10, min=0, help="Only repositories with at least this many."),
    max_stars: int = typer.Option(None, min=0, help="And at most this many."),
    language: Annotated[
        list[str] | None,
        typer.Option("--language", help="Only this primary language (repeat); default: all."),
    ] = None,
    created_from: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Created on or after this day.")
    ] = None,
    created_to: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Created on or before this day.")
    ] = None,
    forks: bool = typer.Option(True, "--forks/--no-forks", help="Include forks."),
    contributors: bool = typer.Option(
        False, help="Also count contributors: one REST request per repository."
    ),
    restart: bool = typer.Option(
        False, help="Abandon an unfinished run of the same request instead of resuming it."
    ),
) -> None:
    """Search, fetch and store repositories; run it again to resume an interrupted run."""
    from pydantic import ValidationError

    from starcast.extraction.checkpoint import Checkpoint
    from starcast.extraction.graphql import GitHubError
    from starcast.extraction.progress import LogProgress, TerminalProgress
    from starcast.extraction.run import run_extraction
    from starcast.extraction.settings import GitHubSettings, TokenError
    from starcast.extraction.spec import RunSpec

    try:
        spec = RunSpec(
            min_stars=min_stars,
            max_stars=max_stars,
            languages=tuple(language or ()),
            created_from=created_from.date() if created_from else None,
            created_to=created_to.date() if created_to else None,
            forks=forks,
            contributors=contributors,
        )
        settings = GitHubSettings()
        settings.load_tokens()  # fail before touching the database
    except (ValidationError, TokenError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    checkpoint = Checkpoint.connect(db)
    try:
        if sys.stderr.isatty():
            with TerminalProgress() as progress:
                summary = asyncio.run(
                    run_extraction(spec, settings, checkpoint, progress, restart=restart)
                )
        else:
            summary = asyncio.run(
                run_extraction(spec, settings, checkpoint, LogProgress(), restart=restart)
            )
    except KeyboardInterrupt:
        typer.echo("interrupted: run the same command again to resume", err=True)
        raise typer.Exit(code=130) from None
    except (GitHubError, TokenError) as error:
        typer.echo(f"error: {error}", err=True)
        typer.echo("the run is saved: run the same command again to resume", err=True)
        raise typer.Exit(code=1) from error
    _print_summary(summary)


@app.command("export")
def export_command(
    db: str = DB_OPTION,
    out: str = typer.Option(..., "--out", help="Parquet URI to write (file:// or s3://)."),
) -> None:
    """Write the stored repositories as the Parquet dataset `starcast train --data` reads."""
    from starcast.extraction.export import ExportError, export_parquet
    from starcast.extraction.repositories import RepositoryTable

    try:
        rows = export_parquet(RepositoryTable.connect(db), out)
    except ExportError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error
    typer.echo(f"{rows} repositories written to {out}")


@app.command("status")
def status_command(db: str = DB_OPTION) -> None:
    """Runs in the database: phase, slices done, repositories stored, failures."""
    from rich.console import Console
    from rich.table import Table

    from starcast.extraction.checkpoint import Checkpoint

    checkpoint = Checkpoint.connect(db)
    table = Table(title=f"extraction runs in {db}")
    columns = ("run", "phase", "started", "slices done", "fetched/expected", "waiting", "failed")
    for column in columns:
        table.add_column(column)
    for run in checkpoint.runs():
        rows = checkpoint.slices(run.run_id)
        failures = checkpoint.failures(run.run_id)
        table.add_row(
            str(run.run_id),
            run.phase,
            f"{run.started_at:%Y-%m-%d %H:%M} UTC",
            f"{sum(r.done for r in rows)}/{len(rows)}",
            f"{sum(r.fetched for r in rows)}/{sum(r.expected for r in rows)}",
            str(len(checkpoint.pending_ids(run.run_id))),
            str(len(failures)),
        )
    console = Console()
    console.print(table)
    statuses = checkpoint.repositories.contributor_status_counts()
    counted = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
    console.print(f"{checkpoint.repositories.count()} repositories stored; contributors {counted}")


def _print_summary(summary: RunSummary) -> None:
    verb = "resumed" if summary.resumed else "ran"
    typer.echo(
        f"{verb} run {summary.run_id}: {summary.stored} repositories stored "
        f"({summary.expected} found in {summary.slices} slices); "
        f"{summary.points_spent} GraphQL points in {summary.graphql_requests} queries, "
        f"{summary.rest_requests} REST requests; {summary.retries} retries, "
        f"{summary.secondary_limits} secondary and {summary.primary_limits} primary limits"
    )
    if summary.truncated_slices:
        typer.echo(
            f"warning: {summary.truncated_slices} slices hold more than search returns "
            "(see the log)",
            err=True,
        )
    for node_id, state, error in summary.failed:
        typer.echo(f"warning: {node_id} {state}: {error}", err=True)
