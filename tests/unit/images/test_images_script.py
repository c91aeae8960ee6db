"""hack/images.sh without building: the references it tags and what its cache keys cover.

Each key test changes one input in a copy of the repository and asks `hack/images.sh key`:
a changed input must change the key (a cache miss), an unrelated file must not.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest
import yaml

from tests.integration.images.built import copy_build_inputs
from tests.support.dockerfile import image_dockerfiles

REPO: Final = Path(__file__).resolve().parents[3]
IMAGES: Final = ("python", "uv", "ray", "operator", "frontend", "worker", "trainer", "rabbitmq")


def script(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo / "hack/images.sh"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def output(repo: Path, *args: str) -> str:
    result = script(repo, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_build_inputs(tmp_path, "tests/unit/images")


def keys(repo: Path) -> dict[str, str]:
    return {name: output(repo, "key", name) for name in IMAGES}


def qualified(ref: str) -> str:
    """A short name as containerd's CRI and buildah read it."""
    first = ref.split("/")[0]
    if "/" not in ref:
        return f"docker.io/library/{ref}"
    return ref if "." in first or ":" in first or first == "localhost" else f"docker.io/{ref}"


def test_the_project_images_are_tagged_as_the_charts_defaults_name_them() -> None:
    serving = yaml.safe_load((REPO / "charts/starcast-serving/values.yaml").read_text())
    operator = yaml.safe_load((REPO / "charts/starcast-operator/values.yaml").read_text())
    version = {
        c: yaml.safe_load((REPO / f"charts/{c}/Chart.yaml").read_text())["appVersion"]
        for c in ("starcast-serving", "starcast-operator")
    }
    assert output(REPO, "ref", "frontend") == (
        f"{serving['frontend']['image']['repository']}:{version['starcast-serving']}"
    )
    assert output(REPO, "ref", "worker") == (
        f"{serving['worker']['image']['repository']}:{version['starcast-serving']}"
    )
    assert output(REPO, "ref", "operator") == (
        f"{operator['image']['repository']}:{version['starcast-operator']}"
    )
    assert output(REPO, "ref", "trainer") == operator["trainerImage"]


def test_the_base_images_are_tagged_with_the_names_the_dockerfiles_from_expects() -> None:
    dockerfiles = image_dockerfiles()
    expected = {
        "python": dockerfiles["frontend"].global_args["PYTHON_IMAGE"],
        "uv": dockerfiles["trainer"].base_images()[0],
        "ray": dockerfiles["trainer"].expand("${RAY_IMAGE}"),
    }
    for name, ref in expected.items():
        assert output(REPO, "ref", name) == qualified(ref)
    every_from = {ref for d in dockerfiles.values() for ref in d.base_images()} - {"uv", "build"}
    assert {qualified(r) for r in every_from} == {qualified(r) for r in expected.values()}


def test_an_unknown_image_is_refused_with_the_known_names() -> None:
    result = script(REPO, "build", "webapp")
    assert result.returncode != 0
    assert (
        "unknown image webapp (one of: operator frontend worker trainer rabbitmq)" in result.stderr
    )


def append(path: str, text: str) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        with (repo / path).open("a") as file:
            file.write(text)

    return change


def replace(path: str, old: str, new: str) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        content = (repo / path).read_text()
        assert old in content, f"{path} no longer holds {old!r}"
        (repo / path).write_text(content.replace(old, new))

    return change


# (what changes, the images whose keys must change; every other key must stay)
CHANGES: Final = {
    "a source file": (
        append("starcast/__init__.py", "\n# changed\n"),
        {"operator", "frontend", "worker", "trainer"},
    ),
    "pyproject.toml": (
        append("pyproject.toml", "\n# changed\n"),
        {"operator", "frontend", "worker", "trainer"},
    ),
    "a Dockerfile": (append("images/worker/Dockerfile", "\n# changed\n"), {"worker"}),
    "the Python pin": (
        replace("images/frontend/Dockerfile", "3.11.14-slim", "3.11.15-slim"),
        set(),
    ),  # refused below: the three slim Dockerfiles must agree
    "the Ray pin": (
        replace("images/trainer/Dockerfile", "RAY_VERSION=2.", "RAY_VERSION=3."),
        {"ray", "trainer"},
    ),
    "the uv pin": (
        lambda repo: [
            replace(f"images/{n}/Dockerfile", "uv:0.", "uv:1.")(repo)
            for n in ("operator", "frontend", "worker", "trainer")
        ],
        {"uv", "ray", "operator", "frontend", "worker", "trainer"},
    ),
    "the Ray recipe": (
        append("hack/images/ray/Containerfile", "\n# changed\n"),
        {"ray", "trainer"},
    ),
    "the RabbitMQ recipe": (
        append("hack/images/rabbitmq/docker-entrypoint.sh", "\n# changed\n"),
        {"rabbitmq"},
    ),
    "a chart's appVersion": (
        replace("charts/starcast-serving/Chart.yaml", 'appVersion: "0.', 'appVersion: "9.'),
        {"frontend", "worker"},
    ),
    "a compiled file": (
        lambda repo: (
            (repo / "starcast/__pycache__").mkdir(exist_ok=True)
            or (repo / "starcast/__pycache__/x.pyc").write_bytes(b"\0")
        ),
        set(),
    ),
    "a test": (append("tests/unit/images/__init__.py", "\n# changed\n"), set()),
}


@pytest.mark.parametrize("what", sorted(set(CHANGES) - {"the Python pin"}))
def test_a_key_changes_exactly_when_an_input_of_its_build_changes(repo: Path, what: str) -> None:
    change, changed = CHANGES[what]
    before = keys(repo)
    change(repo)
    after = keys(repo)
    assert {name for name in IMAGES if before[name] != after[name]} == changed


def test_slim_dockerfiles_naming_different_python_bases_are_refused(repo: Path) -> None:
    CHANGES["the Python pin"][0](repo)
    result = script(repo, "key", "frontend")
    assert result.returncode != 0
    assert "name different PYTHON_IMAGE defaults" in result.stderr


def test_the_python_pin_re_keys_every_image_built_on_it(repo: Path) -> None:
    before = keys(repo)
    for name in ("operator", "frontend", "worker"):
        replace(f"images/{name}/Dockerfile", "3.11.14-slim", "3.11.15-slim")(repo)
    after = keys(repo)
    assert {n for n in IMAGES if before[n] != after[n]} == {
        "python",
        "ray",
        "operator",
        "frontend",
        "worker",
        "trainer",
    }
