"""`make lint`'s dead-code check: vulture finds nothing, and its whitelist holds no stale name."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VULTURE = str(Path(sys.executable).with_name("vulture"))


def vulture(*paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VULTURE, *paths], cwd=ROOT, capture_output=True, text=True, check=False)


def test_no_dead_code() -> None:
    result = vulture()
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_whitelisted_name_is_one_vulture_would_report() -> None:
    whitelist = (ROOT / "vulture_whitelist.py").read_text()
    names = set(re.findall(r"^_\.(\w+)", whitelist, flags=re.MULTILINE))
    result = vulture("starcast", "bench", "tests")  # the same scan, without the whitelist
    reported = set(re.findall(r"unused \w+ '(\w+)'", result.stdout))
    assert names, whitelist
    assert names - reported == set(), "whitelisted, yet used: remove them from the whitelist"
