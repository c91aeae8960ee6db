"""Venvs built as the images build theirs, one per extra, shared by the session."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.images.built import PROJECT_IMAGES, BuiltImage, build
from tests.support.dockerfile import Dockerfile, image_dockerfiles, replay_venv_build
from tests.support.kube import kube_namespace, kube_plane, pytest_collection_finish
from tests.support.models import model_artifact
from tests.support.rabbitmq import broker_url, rabbitmq

__all__ = [
    "broker_url",
    "kube_namespace",
    "kube_plane",
    "model_artifact",
    "pytest_collection_finish",
    "rabbitmq",
]

ImageVenv = Callable[[str], tuple[Dockerfile, Path]]


@pytest.fixture(scope="session")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> ImageVenv:
    """``image_venv(name)``: the image's Dockerfile and a fresh venv built as it builds one."""
    uv_dir = tmp_path_factory.mktemp("uv")
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv is not None, "uv is not installed (make venv installs it)"
    (uv_dir / "uv").symlink_to(uv)  # alone on PATH: the build sees uv, not the dev venv's python
    built: dict[str, Path] = {}
    dockerfiles = image_dockerfiles()

    def build(name: str) -> tuple[Dockerfile, Path]:
        dockerfile = dockerfiles[name]
        if name not in built:
            root = tmp_path_factory.mktemp(f"image-{name}")
            replay_venv_build(dockerfile, root / "venv", root / "src", uv_dir / "uv")
            built[name] = root / "venv"
        return dockerfile, built[name]

    return build


@pytest.fixture(scope="session")
def built_images() -> dict[str, BuiltImage]:
    """Every image of hack/images.sh, built now if its cache is cold (minutes), else cached."""
    images = build()
    assert sorted(images) == sorted(PROJECT_IMAGES)
    return images
