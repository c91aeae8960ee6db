"""Every command's --help is whole at any terminal width: env names never cut, choices listed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from starcast.cli import app

ENV_NAME = re.compile(r"STARCAST_[A-Z0-9_]+")
WIDTHS = ("30", "80", "250")


def commands() -> Iterator[tuple[list[str], Any]]:
    def walk(path: list[str], command: Any) -> Iterator[tuple[list[str], Any]]:
        yield path, command
        # typer carries its own copy of click: a group is what has sub-commands.
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk([*path, name], sub)

    yield from walk([], typer.main.get_command(app))


def help_text(path: list[str], columns: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    return result.output


def declared_env_names(command: Any) -> set[str]:
    """The env names the command's own help texts and options declare."""
    texts = [command.help or ""]
    for param in command.params:
        texts.append(getattr(param, "help", None) or "")
        envvar = getattr(param, "envvar", None)
        texts.extend([envvar] if isinstance(envvar, str) else list(envvar or []))
    return set(ENV_NAME.findall(" ".join(texts)))


@pytest.mark.parametrize(
    ("path", "command"),
    list(commands()),
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_help_is_the_same_at_any_width_and_prints_every_env_name_whole(
    path: list[str], command: Any
) -> None:
    texts = {columns: help_text(path, columns) for columns in WIDTHS}
    assert texts["30"] == texts["80"] == texts["250"]
    text = texts["80"]
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines()), text
    # A name cut across lines would show as a fragment no option declares.
    assert set(ENV_NAME.findall(text)) <= declared_env_names(command), text


def test_the_env_names_of_training_and_the_operator_are_in_their_help() -> None:
    assert "STARCAST_TRAINING_EXECUTOR" in help_text(["train"], "80")
    assert "STARCAST_OPERATOR_NAMESPACES" in help_text(["operator", "run"], "80")


def test_log_level_lists_its_choices_and_refuses_others() -> None:
    assert "<debug|info|warning|error|critical>" in help_text([], "80")
    result = CliRunner().invoke(app, ["--log-level", "LOUD", "up", "--help"])
    assert result.exit_code == 2
    assert "'LOUD' is not one of" in result.output
    assert CliRunner().invoke(app, ["--log-level", "warning", "up", "--help"]).exit_code == 0
