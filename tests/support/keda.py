"""KEDA's real CRDs, from the github.com/kedacore/keda/v2 module's config/crd/bases.

Nothing of KEDA is built or run (its operator needs a metrics API and a broker it can't reach
from kwok pods); its CRDs alone let the real API server validate the chart's ScaledObject and
TriggerAuthentication. `go mod download` fetches the pinned module once per machine into Go's
module cache, verified against the checksum database.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Final

KEDA_MODULE: Final = "github.com/kedacore/keda/v2"
KEDA_VERSION: Final = "v2.20.2"
CRDS: Final = ("keda.sh_scaledobjects.yaml", "keda.sh_triggerauthentications.yaml",
               "keda.sh_clustertriggerauthentications.yaml", "keda.sh_scaledjobs.yaml")  # fmt: skip


@cache
def keda_crd_files() -> tuple[Path, ...]:
    """The pinned KEDA release's CRD files (downloaded on first use)."""
    with tempfile.TemporaryDirectory() as outside_any_module:
        result = subprocess.run(
            ["go", "mod", "download", "-json", f"{KEDA_MODULE}@{KEDA_VERSION}"],
            cwd=outside_any_module,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "GOWORK": "off", "GOTOOLCHAIN": "local", "GOFLAGS": ""},
        )
    assert result.returncode == 0, f"go mod download {KEDA_MODULE}@{KEDA_VERSION}:\n{result.stderr}"
    bases = Path(json.loads(result.stdout)["Dir"]) / "config" / "crd" / "bases"
    files = tuple(bases / name for name in CRDS)
    missing = [str(f) for f in files if not f.exists()]
    assert not missing, f"KEDA {KEDA_VERSION} has no {missing}"
    return files
