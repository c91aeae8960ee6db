"""`starcast train` and `python -m starcast.training` (the RayJob entrypoint): one command.

Under RAY_ADDRESS (a RayJob) the search runs on that Ray cluster; on one machine it runs in a
local process pool and skips Ray (its fixed start-up would be a third of a small run), unless
`--executor ray` asks for a local Ray.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from starcast.budget import Budget
from starcast.sample import sample_dataset_uri
from starcast.timestamps import TIMESTAMP_UNITS
from starcast.training.executors import ExecutorChoice

if TYPE_CHECKING:
    from rich.table import Table

    from starcast.artifact import ModelManifest

logger = logging.getLogger(__name__)


def train(
    out: Annotated[str, typer.Option("--out", help="Artifact directory URI to write.")],
    data: Annotated[
        str | None,
        typer.Option(help="Dataset URI (Parquet or CSV; file:// or s3://). Default: the sample."),
    ] = None,
    timestamp_unit: Annotated[
        str | None,
        typer.Option(
            help=f"Unit of numeric timestamps in the dataset ({', '.join(TIMESTAMP_UNITS)}; "
            "epoch seconds: s). Without it, a number where a time should be is refused.",
        ),
    ] = None,
    budget: Annotated[
        Budget, typer.Option(help="Size of the hyper-parameter search.")
    ] = Budget.STANDARD,
    folds: Annotated[
        int, typer.Option(min=2, max=20, help="K of the K-fold cross-validation.")
    ] = 5,
    family: Annotated[
        list[str] | None,
        typer.Option("--family", help="Model family to search (repeat); default: all."),
    ] = None,
    popularity_features: Annotated[
        bool,
        typer.Option(
            help="Also use features that grow with stars (forks, watchers). "
            "Off by default: the model then predicts from what a repository is, not how popular."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed for folds and estimators.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an artifact already at --out.")] = False,
    executor: Annotated[
        ExecutorChoice | None,
        typer.Option(
            help="Where the fits run [env STARCAST_TRAINING_EXECUTOR; default auto]: auto is "
            "the Ray cluster RAY_ADDRESS names if set (a RayJob), else a process pool on "
            "this machine without Ray; local is the pool, always; ray is Ray (a new local "
            "instance when RAY_ADDRESS is unset).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Search model families (successive halving, K-fold CV), refit the winner, write the
    artifact. One machine: a process pool; under RAY_ADDRESS: that Ray cluster."""
    # Imported here: pandas and scikit-learn take seconds to import; `--help` needs neither.
    from rich.console import Console

    from starcast.artifact import ArtifactError
    from starcast.dataset import DatasetError
    from starcast.training.config import TrainingConfig
    from starcast.training.executors import ExecutorError
    from starcast.training.progress import LogProgress, TerminalProgress
    from starcast.training.run import TrainingError, train_model

    if timestamp_unit is not None and timestamp_unit not in TIMESTAMP_UNITS:
        raise typer.BadParameter(
            f"{timestamp_unit!r} is not one of {', '.join(TIMESTAMP_UNITS)}",
            param_hint="--timestamp-unit",
        )
    config = TrainingConfig(
        data_uri=data or sample_dataset_uri(),
        timestamp_unit=timestamp_unit,
        out_uri=out,
        families=family or None,
        budget=budget,
        folds=folds,
        include_popularity=popularity_features,
        seed=seed,
        overwrite=overwrite,
        # Unset: the config's default (STARCAST_TRAINING_EXECUTOR, else auto).
        **({"executor": executor} if executor is not None else {}),
    )
    try:
        if sys.stderr.isatty():
            with TerminalProgress() as progress:
                manifest = train_model(config, progress)
        else:
            manifest = train_model(config, LogProgress())
    except (DatasetError, ArtifactError, TrainingError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error
    except ExecutorError as error:  # Ray did not start, or a worker of the pool died
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=3) from error
    Console().print(summary_table(manifest))
    typer.echo(f"model {manifest.model_version} written to {out} (sha256 {manifest.model_sha256})")


def summary_table(manifest: ModelManifest) -> Table:
    from rich.table import Table

    from starcast.artifact import Metrics

    table = Table(title=f"cross-validated scores ({manifest.cv_folds} folds, log1p(stars))")
    for column in ("model", "RMSLE", "R² log", "MAE log", "MdAPE stars %"):
        table.add_column(column, justify="left" if column == "model" else "right")

    def row(name: str, metrics: Metrics) -> None:
        table.add_row(
            name,
            f"{metrics.rmsle:.4f}",
            f"{metrics.r2_log:.3f}",
            f"{metrics.mae_log:.4f}",
            f"{metrics.mdape:.1f}",
        )

    for result in sorted(manifest.families, key=lambda r: r.metrics.rmsle):
        marker = " (winner)" if result == manifest.winner else ""
        row(f"{result.family}{marker}", result.metrics)
    row("median baseline", manifest.baseline)
    return table
