"""A Dockerfile read as BuildKit reads it, for tests that reproduce an image without a builder.

No container engine runs here, so the image tests take the Dockerfile's own instructions (its
stages, ARG defaults, ENV, the RUN that builds the venv, ENTRYPOINT and CMD) and replay what can
be replayed on this machine. Reading them from the file keeps the tests honest: a change to the
Dockerfile changes what the tests install and start.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
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


VENV_IN_IMAGE: Final = "/opt/venv"
# The image build runs uv without a cache (nothing to keep in a layer); here the machine's uv
# cache only saves downloads: what gets installed is the same.
LOCAL_ONLY_ENV: Final = frozenset({"UV_NO_CACHE"})


def _copy_sources(stage: Stage) -> list[str]:
    """The build-context paths the stage's COPY instructions take (not --from=... copies)."""
    sources: list[str] = []
    for copy in stage.all("COPY"):
        words = [w for w in copy.arguments.split() if not w.startswith("--")]
        if any(w.startswith("--from=") for w in copy.arguments.split()):
            continue
        sources.extend(words[:-1])
    return sources


def replay_venv_build(dockerfile: Dockerfile, venv: Path, workdir: Path, uv: Path) -> None:
    """Build the image's venv at ``venv`` as the Dockerfile's build stage does.

    The stage's COPY sources go into ``workdir`` (its WORKDIR), its ENV applies, and its RUN
    lines run with /opt/venv replaced by ``venv``; ``uv`` stands for the image's uv binary.
    """
    stage = dockerfile.stage("build")
    repo = dockerfile.path.parents[2]
    workdir.mkdir(parents=True, exist_ok=True)
    for source in _copy_sources(stage):
        origin = repo / source
        if origin.is_dir():
            shutil.copytree(
                origin, workdir / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(origin, workdir / source)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env.update({k: v for k, v in stage.env().items() if k not in LOCAL_ONLY_ENV})
    env["PATH"] = f"{uv.parent}{os.pathsep}{env.get('PATH', '')}"
    for run in stage.all("RUN"):
        if run.arguments.startswith(("mkdir", "chown")):  # directories owned by the image user
            continue
        script = dockerfile.expand(run.arguments).replace(VENV_IN_IMAGE, str(venv))
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, (
            f"{dockerfile.path}:{run.line} failed replayed here:\n{script}\n{result.stderr[-4000:]}"
        )


def runtime_environment(dockerfile: Dockerfile, venv: Path, home: Path) -> dict[str, str]:
    """The runtime stage's ENV as the container sees it, with the venv at ``venv``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STARCAST_", "VIRTUAL_ENV"))}
    for key, value in dockerfile.runtime.env().items():
        value = value.replace("$PATH", os.environ.get("PATH", "")).replace(VENV_IN_IMAGE, str(venv))
        env[key] = str(home) if key == "HOME" else value
    if "PATH" not in dockerfile.runtime.env():
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


def container_command(dockerfile: Dockerfile, venv: Path) -> list[str]:
    """ENTRYPOINT + CMD, the first word resolved in the venv as the image's PATH resolves it."""
    command = dockerfile.runtime.exec_form("ENTRYPOINT") + dockerfile.runtime.exec_form("CMD")
    return [str(venv / "bin" / command[0]), *command[1:]]
