"""The plane's addons (hack/kube-addons.sh): controllers and CRDs built from their Go modules."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Final

from tests.support.kube import REPO_ROOT

ADDONS_SCRIPT: Final = REPO_ROOT / "hack" / "kube-addons.sh"
BUILD_TIMEOUT_S: Final = 60 * 60


def build_addon(name: str) -> Path | str:
    """The addon's cached dir (bin/ and its module files), built once per machine; or why not."""
    try:
        result = subprocess.run(
            ["bash", str(ADDONS_SCRIPT), "build", name],
            capture_output=True,
            text=True,
            check=False,
            timeout=BUILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"hack/kube-addons.sh build {name} did not finish in {BUILD_TIMEOUT_S}s"
    if result.returncode != 0:
        return f"hack/kube-addons.sh build {name} failed:\n{result.stderr}"
    return Path(result.stdout.strip().splitlines()[-1])
