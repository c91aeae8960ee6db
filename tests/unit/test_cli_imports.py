"""`starcast` starts fast: importing the CLI and every `--help` load only typer and light modules.

Each check runs in a fresh interpreter, because this test process has long imported everything.
Subcommands are found by walking the command tree, so a new command group is checked as soon as
it is registered in `starcast/cli.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

# Libraries that take from a tenth of a second to seconds to import; a command imports them when
# it runs, never when it is only listed or asked for --help. (pydantic is not here: typer itself
# builds its parameter types with it.)
HEAVY_MODULES = (
    "numpy",
    "pandas",
    "sklearn",
    "scipy",
    "skops",
    "treelite",
    "matplotlib",
    "pyarrow",
    "ray",
    "celery",
    "kombu",
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "httpx",
    "boto3",
    "botocore",
    "kopf",
    "kubernetes",
    "openstack",
)

_HELP_EVERY_COMMAND = """
import json, sys
from typer.main import get_command
from typer.testing import CliRunner
from starcast.cli import app

def walk(command, path):
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):  # a group's commands
        yield from walk(sub, [*path, name])

paths = list(walk(get_command(app), []))
failed = {}
for path in paths:
    result = CliRunner().invoke(app, [*path, "--help"])
    if result.exit_code != 0:
        failed[" ".join(path)] = result.output
print(json.dumps({"paths": paths, "failed": failed, "modules": sorted(sys.modules)}))
"""


def _run(code: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _heavy(modules: list[str]) -> list[str]:
    return sorted({name.split(".")[0] for name in modules if name.split(".")[0] in HEAVY_MODULES})


def test_import_cli_loads_no_heavy_module() -> None:
    loaded = _run(
        "import json, sys, starcast.cli; print(json.dumps({'modules': list(sys.modules)}))"
    )
    assert _heavy(loaded["modules"]) == []


@pytest.mark.timeout(180)
def test_help_of_every_command_loads_no_heavy_module() -> None:
    result = _run(_HELP_EVERY_COMMAND)
    commands = {" ".join(path) for path in result["paths"]}
    # The walk reached the real tree (not an empty app): the groups users know are there.
    assert {"", "train", "up", "serve frontend", "serve worker", "extract run"} <= commands
    assert result["failed"] == {}
    assert _heavy(result["modules"]) == []
