"""The `starcast` command. Each component registers its commands here, one line each.

A component's `cli.py` imports only typer and light modules at module level; everything heavy
(pandas, scikit-learn, Ray, kopf, ...) is imported inside the command function that uses it, so
`starcast --help` and every subcommand's --help stay fast. tests/unit/test_cli_imports.py checks
every registered command.
"""

from __future__ import annotations

import typer

from starcast.bootstrap.cli import app as bootstrap_app
from starcast.extraction.cli import app as extract_app
from starcast.logs import configure_logging
from starcast.operator.cli import app as operator_app
from starcast.serving.cli import serve
from starcast.training.cli import train
from starcast.up.cli import up

app = typer.Typer(
    name="starcast",
    help="Predict GitHub stars from repository metadata, from extraction to serving.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(train)
app.add_typer(serve)
app.command()(up)
app.add_typer(extract_app)
app.add_typer(operator_app)
app.add_typer(bootstrap_app)


@app.callback()
def _root(
    log_level: str = typer.Option("INFO", envvar="STARCAST_LOG_LEVEL", help="Logging level."),
    log_json: bool = typer.Option(False, envvar="STARCAST_LOG_JSON", help="Log JSON lines."),
) -> None:
    configure_logging(log_level, json_lines=log_json)


def main() -> None:
    app()
