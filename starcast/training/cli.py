"""`starcast train`: the search, from the terminal."""

from __future__ import annotations

import typer


def train(
    data: str = typer.Option(..., "--data", help="Dataset URI (Parquet or CSV; file:// or s3://)."),
    out: str = typer.Option(..., "--out", help="Artifact directory URI to write."),
) -> None:
    """Search model families with Ray, cross-validate, refit the winner, write the artifact."""
    raise typer.Exit(code=2)
