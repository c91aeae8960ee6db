"""`make demo` on a fresh clone says what it installs and shows the installer's progress."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def dry_run(target: str, tmp_path: Path) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed: the two commands of the README need it")
    # A venv that does not exist yet: what a fresh clone's first run would do.
    # --no-print-directory: under `make test` this make is a sub-make, which would
    # otherwise wrap its output in "Entering/Leaving directory" lines.
    return subprocess.run(
        [make, "--no-print-directory", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def install_line(commands: str) -> str:
    [line] = [line for line in commands.splitlines() if "uv pip install" in line]
    return line


def test_the_first_demo_announces_the_install_and_shows_its_progress(tmp_path: Path) -> None:
    commands = dry_run("demo", tmp_path)
    assert "== installing starcast and its extras" in commands
    assert "== byte-compiling" in commands
    assert "files compiled" in commands  # the compile counts what it did as it goes
    assert "--quiet" not in install_line(commands)  # uv's own progress is shown
    assert commands.rstrip().endswith("starcast up")


def test_other_targets_install_quietly(tmp_path: Path) -> None:
    assert "--quiet" in install_line(dry_run("venv", tmp_path))
