"""Each chart's values are documented, in the README's tables, and covered by a strict schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CHARTS = sorted(path.parent for path in (ROOT / "charts").glob("*/Chart.yaml"))


def test_the_readme_tables_are_generated_from_the_values() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "chart-values.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _walk(values: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Paths of values.yaml that the schema does not describe, and schema objects left open."""
    problems: list[str] = []
    if schema.get("type") != "object" or "properties" not in schema:
        return problems
    if schema.get("additionalProperties") is not False:
        problems.append(f"{path or '<root>'}: schema object allows unknown keys")
    for key, value in (values or {}).items():
        if key not in schema["properties"]:
            problems.append(f"{path}{key}: not in values.schema.json")
        else:
            problems.extend(_walk(value, schema["properties"][key], f"{path}{key}."))
    problems.extend(
        f"{path}{key}: in the schema, not in values.yaml"
        for key in schema["properties"]
        if key not in (values or {})
    )
    return problems


@pytest.mark.parametrize("chart", CHARTS, ids=lambda p: p.name)
def test_the_schema_describes_exactly_the_values(chart: Path) -> None:
    values = yaml.safe_load((chart / "values.yaml").read_text())
    schema = json.loads((chart / "values.schema.json").read_text())
    assert _walk(values, schema, "") == []


@pytest.mark.parametrize("chart", CHARTS, ids=lambda p: p.name)
def test_the_chart_follows_the_conventions(chart: Path) -> None:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2" and meta["name"] == chart.name
    helpers = (chart / "templates" / "_helpers.tpl").read_text()
    defines = [line.split('"')[1] for line in helpers.splitlines() if "{{- define " in line]
    assert defines and all(name.startswith(f"{chart.name}.") for name in defines)
    assert (chart / "templates" / "NOTES.txt").exists()
    assert list((chart / "templates" / "tests").glob("*.yaml")) or chart.name != "starcast-serving"
    assert list((chart / "ci").glob("*-values.yaml"))
