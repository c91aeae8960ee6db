"""`python -m starcast.training`: the entrypoint a KubeRay RayJob runs."""

from __future__ import annotations

import typer

from starcast.logs import configure_logging
from starcast.training.cli import train

if __name__ == "__main__":
    configure_logging()
    typer.run(train)
