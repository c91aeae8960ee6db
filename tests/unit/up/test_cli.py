"""What `starcast up` (and `serve`) say on the command line: help with its brackets, one-line
setting errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from starcast.cli import app

WIDE = {"COLUMNS": "240", "TERMINAL_WIDTH": "240"}


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["up"], "[env STARCAST_WORKERS; default cores-1, at least 2]"),
        (["up"], "[env STARCAST_PORT, default 5100]"),
        (["up"], "[env STARCAST_STATE_DIR, default $XDG_DATA_HOME/starcast]"),
        (["serve", "frontend"], "[env STARCAST_PORT, default 5100]"),
        (["serve", "frontend"], "[env STARCAST_HOST]"),
        (["serve", "worker"], "[env STARCAST_MODEL_SHA256]"),
        (["serve", "worker"], "[env STARCAST_WORKER_CONCURRENCY]"),
    ],
)
def test_help_keeps_the_variable_and_default_in_brackets(command: list[str], shown: str) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert shown in " ".join(result.output.split())  # wrapped at 80 columns, between words


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (
            ["--workers", "0"],
            "error: --workers / STARCAST_WORKERS: Input should be greater than or equal to 1 "
            "(got 0)",
        ),
        (
            ["--port", "70000"],
            "error: --port / STARCAST_PORT: Input should be less than or equal to 65535 "
            "(got 70000)",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_option_and_variable(
    arguments: list[str], line: str
) -> None:
    result = CliRunner().invoke(app, ["up", *arguments], env=WIDE)
    assert result.exit_code == 2
    assert result.output.strip() == line
    assert "pydantic.dev" not in result.output


def test_ray_failing_to_start_for_the_first_model_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first `up` trains a model; a Ray that won't start says what to try, no traceback."""
    import starcast.up.broker
    import starcast.up.model
    from starcast.training.executors import RayStartError
    from starcast.up.broker import Broker, ProvidedBroker
    from starcast.up.processes import free_port

    @contextmanager
    def broker(_url: str | None, _logs: Path) -> Iterator[ProvidedBroker]:
        yield ProvidedBroker(Broker(url="memory://", description="a test broker"))

    def ray_fails(_uri: str) -> None:
        raise RayStartError("Ray did not start twice; try: ray stop --force")

    monkeypatch.setattr(starcast.up.broker, "provide_broker", broker)
    monkeypatch.setattr(starcast.up.model, "ensure_model", ray_fails)
    arguments = ["up", "--port", str(free_port()), "--state-dir", str(tmp_path)]
    result = CliRunner().invoke(app, arguments, env=WIDE)
    assert result.exit_code == 1, result.output
    assert "error: Ray did not start twice; try: ray stop --force" in result.output
    assert "Traceback" not in result.output
