"""A Dockerfile read as BuildKit reads it, for tests that reproduce an image without a builder.

No container engine runs here, so the image tests take the Dockerfile's own instructions (its
stages, ARG defaults, ENV, the RUN that builds the venv, ENTRYPOINT and CMD) and replay what can
be replayed on this machine. Reading them from the file keeps the tests honest: a change to the
Dockerfile changes what the tests install and start.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Final



IMAGES_DIR: Final = Path(__file__).resolve().parents[2] / "images"
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, ...
    arguments: str
    line: int


@dataclass(frozen=True)
class Stage:
    base: str  # the FROM argument as written (variables unexpanded)
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def exec_form(self, keyword: str) -> list[str]:
        """The last ENTRYPOINT or CMD of the stage, which must be in exec (JSON) form."""
        found = self.all(keyword)
        if not found:
            return []
        parsed = json.loads(found[-1].arguments)
        assert isinstance(parsed, list), f"{keyword} on line {found[-1].line} is not exec form"
        return [str(item) for item in parsed]

    def env(self) -> dict[str, str]:
        """ENV key=value pairs of the stage, in order (later ones win)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.arguments):
                key, _, value = pair.partition("=")
                values[key] = value
        return values


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    global_args: dict[str, str]  # ARGs before the first FROM, with their defaults
    stages: tuple[Stage, ...]

    @property
    def runtime(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def expand(self, text: str, extra: dict[str, str] | None = None) -> str:
        """Substitute ${ARG} and $ARG with the ARG defaults (and ``extra``), as BuildKit does."""
        values = {**self.global_args, **(extra or {})}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            return values.get(name, match.group(0))

        for _ in range(len(values) + 1):  # an ARG default may name an earlier ARG
            expanded = _VARIABLE.sub(substitute, text)
            if expanded == text:
                break
            text = expanded
        return text

    def base_images(self) -> list[str]:
        """Each stage's base image with ARGs expanded (stage names left as they are)."""
        return [self.expand(stage.base) for stage in self.stages]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with backslash continuations joined and comments dropped: (first line no, text)."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    return lines


def parse(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    base, name = "", None
    for number, line in _logical_lines(path.read_text()):
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip(), number)
        if instruction.keyword == "FROM":
            if current is not None:
                stages.append(Stage(base, name, tuple(current)))
            words = instruction.arguments.split()
            base = words[0]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            current = []
        elif current is None:
            assert instruction.keyword == "ARG", f"{path}:{number}: only ARG may precede FROM"
            key, _, default = instruction.arguments.partition("=")
            global_args[key] = default
        else:
            current.append(instruction)
    assert current is not None, f"{path} has no FROM"
    stages.append(Stage(base, name, tuple(current)))
    return Dockerfile(path, global_args, tuple(stages))


def image_dockerfiles() -> dict[str, Dockerfile]:
    """images/<name>/Dockerfile for every image, by name."""
    return {path.parent.name: parse(path) for path in sorted(IMAGES_DIR.glob("*/Dockerfile"))}
