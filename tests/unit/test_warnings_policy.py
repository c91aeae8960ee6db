"""pytest turns a warning from starcast's own code into an error; one from elsewhere stays one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import warnings


def warn_from(module: str) -> None:
    exec("import warnings; warnings.warn('probe', UserWarning)", {"__name__": module})


def test_from_starcast() -> None:
    warn_from("starcast.probe")


def test_from_a_library() -> None:
    warn_from("somelibrary.probe")
"""


def test_a_warning_from_starcast_fails_its_test_and_a_librarys_does_not(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert "1 failed, 1 passed, 1 warning" in result.stdout, result.stdout + result.stderr
    assert "FAILED" in result.stdout and "test_from_starcast" in result.stdout
    assert "UserWarning: probe" in result.stdout
