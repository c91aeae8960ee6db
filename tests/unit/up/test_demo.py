"""`make demo` on a fresh clone installs what the demo runs, says so, and compiles nothing up front.

`make test` keeps its own venv with every extra and the test tools (`.[dev]`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TEST_TOOLS = ("pytest", "mypy", "moto", "selenium", "ruff")


def dry_run(target: str, tmp_path: Path) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed: the two commands of the README need it")
    # Venvs that do not exist yet: what a fresh clone's first run would do.
    # --no-print-directory: under `make test` this make is a sub-make, which would
    # otherwise wrap its output in "Entering/Leaving directory" lines.
    return subprocess.run(
        [
            make, "--no-print-directory", "-n", target,
            f"VENV={tmp_path / 'venv'}", f"DEMO_VENV={tmp_path / 'demo-venv'}",
        ],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def install_line(commands: str) -> str:
    [line] = [line for line in commands.splitlines() if "uv pip install" in line]
    return line


def installed_extras(line: str) -> set[str]:
    match = re.search(r"-e '\.\[([a-z,]+)\]'", line)
    assert match is not None, line
    return set(match.group(1).split(","))


def test_the_first_demo_announces_the_install_and_shows_its_progress(tmp_path: Path) -> None:
    commands = dry_run("demo", tmp_path)
    assert "== installing starcast with what the demo runs" in commands
    assert "--quiet" not in install_line(commands)  # uv's own progress is shown
    assert commands.rstrip().endswith("starcast up")


def test_the_demo_installs_what_it_runs_and_no_test_tools(tmp_path: Path) -> None:
    line = install_line(dry_run("demo", tmp_path))
    assert str(tmp_path / "demo-venv") in line  # its own venv, not the test venv
    extras = installed_extras(line)
    assert extras == {"serving", "training"}
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    requirements = " ".join(requirement for extra in extras for requirement in optional[extra])
    for tool in TEST_TOOLS:
        assert tool not in requirements, f"the demo's extras pull in {tool}"


def test_the_demo_compiles_nothing_up_front_and_keeps_what_its_processes_compile(
    tmp_path: Path,
) -> None:
    commands = dry_run("demo", tmp_path)
    assert "compileall" not in commands
    # With PYTHONDONTWRITEBYTECODE set, every process (worker, frontend, restart) would compile
    # its imports again: the demo lifts it, so the first import of a module writes its .pyc.
    [run] = [line for line in commands.splitlines() if line.endswith("starcast up")]
    assert run.startswith("env -u PYTHONDONTWRITEBYTECODE ")


def test_make_test_keeps_the_dev_venv(tmp_path: Path) -> None:
    line = install_line(dry_run("venv", tmp_path))
    assert "--quiet" in line  # other targets install quietly
    assert installed_extras(line) == {"dev"}
    assert str(tmp_path / "venv") in line
