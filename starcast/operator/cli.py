"""`starcast operator run|crds`. kopf and the Kubernetes client are imported inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="operator",
    help="The Kubernetes operator: TrainingRun and ModelRelease.",
    no_args_is_help=True,
)


@app.command()
def run(
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace",
            "-n",
            help="Namespace to watch (repeat); default: STARCAST_OPERATOR_NAMESPACES, or all.",
        ),
    ] = None,
    peering: Annotated[
        str | None,
        typer.Option(
            help="Peer replicas through this (Cluster)KopfPeering, made if missing, so that only "
            "one acts; default: STARCAST_OPERATOR_PEERING, or none (standalone).",
        ),
    ] = None,
    standalone: Annotated[
        bool, typer.Option(help="No peering, whatever STARCAST_OPERATOR_PEERING says.")
    ] = False,
) -> None:
    """Run the operator until interrupted (SIGTERM or Ctrl-C stops it cleanly)."""
    from starcast.operator.runner import run_operator
    from starcast.operator.settings import OperatorSettings

    if peering and standalone:
        raise typer.BadParameter("--peering and --standalone exclude each other: choose one")
    settings = OperatorSettings()
    if namespace:
        settings = settings.model_copy(update={"namespaces": namespace})
    if peering:
        settings = settings.model_copy(update={"peering": peering})
    if standalone:
        settings = settings.model_copy(update={"peering": None})
    run_operator(settings)


@app.command()
def crds(
    out_dir: Annotated[
        Path | None,
        typer.Option(help="Write one file per CRD here instead of printing them."),
    ] = None,
) -> None:
    """Print the CRDs generated from the models (`kubectl apply --server-side -f -`)."""
    from starcast.operator.crds import crd_files, crds_yaml

    if out_dir is None:
        typer.echo(crds_yaml(), nl=False)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in crd_files().items():
        (out_dir / name).write_text(text)
        typer.echo(f"wrote {out_dir / name}")
