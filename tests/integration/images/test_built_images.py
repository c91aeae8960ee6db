"""The images built from images/*/Dockerfile: what the charts and KubeRay rely on, read and run.

`hack/images.sh build` builds them here with buildah (cold: minutes; warm: seconds); each test
reads the built image's OCI config or runs a command inside it (buildah run, chroot isolation).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Final

import pytest
import yaml

from tests.integration.images.built import REPO, BuiltImage, image_config, run_in_image
from tests.support.dockerfile import image_dockerfiles

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCKERFILES: Final = image_dockerfiles()
SLIM_IMAGES: Final = ("operator", "frontend", "worker")
# The extra each image installs and the distributions that mark an extra as installed.
EXTRA_OF: Final = {"operator": "operator", "frontend": "serving", "worker": "serving", "trainer": "training"}
MARKERS: Final = {
    "training": {"ray", "matplotlib"},
    "serving": {"fastapi", "celery", "treelite"},
    "operator": {"kopf"},
    "extraction": {"sqlalchemy", "alembic"},
    "bootstrap": {"openstacksdk", "paramiko"},
}


def chart_yaml(path: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((REPO / "charts" / path).read_text())
    return loaded


def chart_default_ref(name: str) -> str:
    """The reference the charts' defaults name for an image (tag: the chart's appVersion)."""
    if name == "trainer":
        return str(chart_yaml("starcast-operator/values.yaml")["trainerImage"])
    chart = "starcast-operator" if name == "operator" else "starcast-serving"
    values = chart_yaml(f"{chart}/values.yaml")
    image = values["image"] if name == "operator" else values[name]["image"]  # type: ignore[index]
    assert isinstance(image, dict)
    tag = image["tag"] or chart_yaml(f"{chart}/Chart.yaml")["appVersion"]
    return f"{image['repository']}:{tag}"


def distributions(ref: str) -> set[str]:
    """Names of the distributions installed in the image's /opt/venv, normalised."""
    script = (
        "import importlib.metadata as m, json; "
        "print(json.dumps([d.metadata['Name'] for d in m.distributions()]))"
    )
    result = run_in_image(ref, "/opt/venv/bin/python", "-c", script)
    assert result.returncode == 0, result.stderr
    return {name.lower().replace("_", "-") for name in json.loads(result.stdout)}


@pytest.mark.parametrize("name", sorted(EXTRA_OF))
def test_tagged_as_the_charts_defaults_name_it(built_images: dict[str, BuiltImage], name: str) -> None:
    assert built_images[name].ref == chart_default_ref(name)


@pytest.mark.parametrize("name", SLIM_IMAGES)
def test_the_slim_images_run_as_the_non_root_user_10001(
    built_images: dict[str, BuiltImage], name: str
) -> None:
    assert image_config(built_images[name].ref).user == "10001:10001"
    whoami = run_in_image(built_images[name].ref, "id", "-u")
    assert whoami.stdout.strip() == "10001", whoami.stderr


def test_the_trainer_runs_as_the_ray_user_in_its_home(built_images: dict[str, BuiltImage]) -> None:
    config = image_config(built_images["trainer"].ref)
    assert (config.user, config.working_dir) == ("1000:100", "/home/ray")
    who = run_in_image(built_images["trainer"].ref, "bash", "-c", 'id -un; id -gn; echo "$HOME"')
    assert who.stdout.split() == ["ray", "users", "/home/ray"], who.stderr


@pytest.mark.parametrize("name", sorted(EXTRA_OF))
def test_entrypoint_and_cmd_are_the_dockerfiles(built_images: dict[str, BuiltImage], name: str) -> None:
    runtime = DOCKERFILES[name].runtime
    config = image_config(built_images[name].ref)
    assert config.entrypoint == (runtime.exec_form("ENTRYPOINT") or None)
    assert config.cmd == runtime.exec_form("CMD")
    assert config.environment()["PATH"].startswith("/opt/venv/bin:")


@pytest.mark.parametrize("name", SLIM_IMAGES)
def test_the_starcast_cli_runs_inside_the_serving_and_operator_images(
    built_images: dict[str, BuiltImage], name: str
) -> None:
    config = image_config(built_images[name].ref)
    assert config.entrypoint is not None
    result = run_in_image(built_images[name].ref, *config.entrypoint, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: starcast" in result.stdout


def test_the_trainer_runs_its_own_cmd(built_images: dict[str, BuiltImage]) -> None:
    config = image_config(built_images["trainer"].ref)
    result = run_in_image(built_images["trainer"].ref, *config.command())
    assert config.command() == ["python", "-m", "starcast.training", "--help"]
    assert result.returncode == 0, result.stderr
    assert "Usage: python -m starcast.training" in result.stdout


@pytest.mark.parametrize("name", sorted(EXTRA_OF))
def test_the_venv_holds_starcast_with_only_its_extra(built_images: dict[str, BuiltImage], name: str) -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, markers in MARKERS.items():  # each marker is a requirement of its extra
        assert all(any(r.lower().startswith(m) for r in extras[extra]) for m in markers), extra
    installed = distributions(built_images[name].ref)
    own = EXTRA_OF[name]
    assert "starcast" in installed
    assert MARKERS[own] <= installed
    others = set().union(*(m for extra, m in MARKERS.items() if extra != own)) - MARKERS[own]
    assert not others & installed, f"{name} holds other extras' packages: {sorted(others & installed)}"


def test_the_trainer_venv_has_the_ray_of_the_dockerfiles_pin(built_images: dict[str, BuiltImage]) -> None:
    pin = DOCKERFILES["trainer"].global_args["RAY_VERSION"]
    result = run_in_image(built_images["trainer"].ref, "bash", "-lc", "command -v ray; ray --version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "/opt/venv/bin/ray"  # KubeRay's `bash -lc ray start`
    assert f"version {pin}" in result.stdout


def test_the_build_reports_a_size_and_a_time_for_each_image(built_images: dict[str, BuiltImage]) -> None:
    for image in built_images.values():
        assert image.size_mib > 0, image
        assert image.seconds >= 0, image
        assert image.source == "built" or image.cached, image


def test_the_archives_are_oci_archives_naming_the_reference(built_images: dict[str, BuiltImage]) -> None:
    import tarfile

    from tests.integration.images.built import images_script

    paths = images_script("archives", *built_images).stdout.split()
    assert len(paths) == len(built_images)
    for name, path in zip(built_images, paths, strict=True):
        with tarfile.open(Path(path)) as archive:
            index_file = archive.extractfile("index.json")
            assert index_file is not None
            index = json.load(index_file)
        names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
        assert names == [built_images[name].ref]
