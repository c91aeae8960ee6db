"""The `starcast` command. Each component registers its commands here, one line each.

A component's `cli.py` imports only typer and light modules at module level; everything heavy
(pandas, scikit-learn, Ray, kopf, ...) is imported inside the command function that uses it, so
`starcast --help` and every subcommand's --help stay fast. tests/unit/test_cli_imports.py checks
every registered command.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

import typer

from starcast.bootstrap.cli import app as bootstrap_app
from starcast.extraction.cli import app as extract_app
from starcast.logs import configure_logging
from starcast.operator.cli import app as operator_app
from starcast.serving.cli import serve
from starcast.training.cli import train
from starcast.up.cli import up

HELP_WIDTH: Final = 80

app = typer.Typer(
    name="starcast",
    help="Predict GitHub stars from repository metadata, from extraction to serving.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # Help laid out for 80 columns whatever the terminal says (COLUMNS, a pipe): see plain_help.
    context_settings={"terminal_width": HELP_WIDTH, "max_content_width": HELP_WIDTH},
)
app.command()(train)
app.add_typer(serve)
app.command()(up)
app.add_typer(extract_app)
app.add_typer(operator_app)
app.add_typer(bootstrap_app)


def plain_help(typer_app: typer.Typer) -> None:
    """Every command's help in click's plain layout, not rich's boxed table.

    Rich sizes its table to the terminal and cuts what overflows a cell: at 80 columns an env
    name became `STARCAST_TRAININ…`. Click wraps between words, at HELP_WIDTH columns
    whatever the terminal's width (a narrower terminal would make it break inside names), so
    every option and env variable is printed whole; "[env ...]" in a help text is plain text,
    not a markup tag.
    """
    typer_app.rich_markup_mode = None
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            plain_help(group.typer_instance)


plain_help(app)


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


@app.callback()
def _root(
    log_level: Annotated[
        LogLevel,
        typer.Option(envvar="STARCAST_LOG_LEVEL", case_sensitive=False, help="Logging level."),
    ] = LogLevel.INFO,
    log_json: Annotated[
        bool, typer.Option(envvar="STARCAST_LOG_JSON", help="Log JSON lines.")
    ] = False,
) -> None:
    configure_logging(log_level.value, json_lines=log_json)


def main() -> None:
    app()
