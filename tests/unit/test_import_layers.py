"""The import layers of .importlinter hold: checked by import-linter, as `make lint` runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    return subprocess.run(
        [*command, str(config)], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_the_layers_contract_is_kept() -> None:
    result = lint_imports(ROOT / ".importlinter")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_the_one_meeting_point_of_two_components_is_the_frontend_command(tmp_path: Path) -> None:
    # Without its named exception, the contract sees exactly that import, and nothing else.
    config = (ROOT / ".importlinter").read_text()
    strict = config[: config.index("ignore_imports")]
    (tmp_path / ".importlinter").write_text(strict)
    result = lint_imports(tmp_path / ".importlinter")
    assert result.returncode == 1
    broken = [line for line in result.stdout.splitlines() if " -> " in line or "(l." in line]
    assert broken, result.stdout
    assert all("starcast.serving.cli" in line for line in broken if " -> " in line), result.stdout
