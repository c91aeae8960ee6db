#!/usr/bin/env python3
"""The values tables of the charts' README section, generated from each chart's values.yaml.

Every value in charts/*/values.yaml carries a `# -- description` comment on the line(s) before it
(helm-docs' convention; keys below a documented key are its default, not values of their own).
This script writes one Markdown table per chart between the README's markers

    <!-- values:CHART:start --> ... <!-- values:CHART:end -->

Usage: hack/chart-values.py [--check]   (--check: exit 1 if README.md is out of date, write nothing)
It also fails when a value has no description, naming it.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
KEY_LINE = re.compile(r"^(\s*)([A-Za-z0-9_]+):")


@dataclass(frozen=True)
class Value:
    key: str
    description: str
    default: Any


def _lookup(values: Any, key: str) -> Any:
    for part in key.split("."):
        values = values[part]
    return values


def _leaves(values: Any, prefix: str = "") -> list[str]:
    if isinstance(values, dict) and values:
        return [leaf for k, v in values.items() for leaf in _leaves(v, f"{prefix}{k}.")]
    return [prefix.rstrip(".")]


def documented_values(values_file: Path) -> list[Value]:
    """The documented values in file order; ValueError naming any value left undocumented."""
    text = values_file.read_text()
    loaded = yaml.safe_load(text) or {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    found: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped.removeprefix("# --").strip()]
            continue
        match = KEY_LINE.match(line)
        if match is None:
            if not stripped.startswith("#"):
                pending = []
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [key])
        stack.append((indent, key))
        inside_documented = any(path.startswith(f"{done}.") for done in found)
        if pending and not inside_documented:
            found[path] = " ".join(pending)
        pending = []
    missing = [
        leaf
        for leaf in _leaves(loaded)
        if leaf not in found and not any(leaf.startswith(f"{done}.") for done in found)
    ]
    if missing:
        raise ValueError(f"{values_file}: values without a `# --` description: {missing}")
    return [Value(key, description, _lookup(loaded, key)) for key, description in found.items()]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(values: list[Value]) -> str:
    rows = ["| Key | Default | Description |", "| --- | --- | --- |"]
    for value in values:
        default = json.dumps(value.default, separators=(",", ":"))
        rows.append(f"| `{value.key}` | `{_cell(default)}` | {_cell(value.description)} |")
    return "\n".join(rows)


def render(readme: str, chart: str, generated: str) -> str:
    start, end = f"<!-- values:{chart}:start -->", f"<!-- values:{chart}:end -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(readme):
        raise ValueError(f"README.md has no {start} ... {end} markers for {chart}'s values")
    return pattern.sub(lambda _: f"{start}\n{generated}\n{end}", readme)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    readme = original = README.read_text()
    for values_file in sorted(ROOT.glob("charts/*/values.yaml")):
        chart = values_file.parent.name
        readme = render(readme, chart, table(documented_values(values_file)))
    if readme == original:
        return 0
    if check:
        sys.stderr.write("README.md's values tables are out of date: run hack/chart-values.py\n")
        return 1
    README.write_text(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
