"""cloud-init's own schema checker (Debian's `cloud-init` package), for rendered user-data."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def cloud_init_schema(path: Path) -> subprocess.CompletedProcess[str]:
    """`cloud-init schema --config-file PATH`: exit 0 and "Valid cloud-config" when valid."""
    binary = shutil.which("cloud-init")
    if binary is None:
        pytest.fail("cloud-init not installed: run `make system-deps`", pytrace=False)
    return subprocess.run(
        [binary, "schema", "--config-file", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_valid_cloud_config(user_data: str, path: Path) -> None:
    path.write_text(user_data)
    result = cloud_init_schema(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout
