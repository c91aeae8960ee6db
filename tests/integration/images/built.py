"""The images hack/images.sh builds, read and run here with buildah and runc (no Docker engine)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

REPO: Final = Path(__file__).resolve().parents[3]
SCRIPT: Final = REPO / "hack" / "images.sh"
PROJECT_IMAGES: Final = ("operator", "frontend", "worker", "trainer", "rabbitmq")
BUILD_TIMEOUT: Final = 3600  # a cold build of every image on 2 shared cores


def images_script(
    *args: str, repo: Path = REPO, timeout: float = BUILD_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """hack/images.sh of ``repo`` (this checkout unless a copy), failing with its stderr."""
    result = subprocess.run(
        ["bash", str(repo / "hack" / "images.sh"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"hack/images.sh {' '.join(args)} failed:\n{result.stderr}"
    return result


@dataclass(frozen=True)
class BuiltImage:
    """One line of `hack/images.sh build`."""

    name: str
    ref: str
    size_mib: float
    seconds: float
    source: str  # "built" or "cached (built in N s)"

    @property
    def cached(self) -> bool:
        return self.source.startswith("cached")


def parse_build_output(stdout: str) -> dict[str, BuiltImage]:
    images: dict[str, BuiltImage] = {}
    for line in stdout.splitlines():
        name, ref, size, mib, seconds, unit, *source = line.split()
        assert (mib, unit) == ("MiB", "s"), f"unexpected build line: {line!r}"
        images[name] = BuiltImage(name, ref, float(size), float(seconds), " ".join(source))
    return images


def build(*names: str, repo: Path = REPO) -> dict[str, BuiltImage]:
    return parse_build_output(images_script("build", *names, repo=repo).stdout)


class ImageConfig(BaseModel):
    """The OCI config of an image, the part a container runtime reads."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    user: str = Field("", alias="User")
    entrypoint: list[str] | None = Field(None, alias="Entrypoint")
    cmd: list[str] | None = Field(None, alias="Cmd")
    env: list[str] = Field(default_factory=list, alias="Env")
    working_dir: str = Field("", alias="WorkingDir")
    exposed_ports: dict[str, object] | None = Field(None, alias="ExposedPorts")
    volumes: dict[str, object] | None = Field(None, alias="Volumes")

    def environment(self) -> dict[str, str]:
        return dict(pair.split("=", 1) for pair in self.env)

    def command(self) -> list[str]:
        return [*(self.entrypoint or []), *(self.cmd or [])]


def buildah(*args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        ["bash", str(SCRIPT), "buildah", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"buildah {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def image_config(ref: str) -> ImageConfig:
    inspected = json.loads(buildah("inspect", "--type", "image", ref))
    return ImageConfig.model_validate(inspected["OCIv1"]["config"])


def run_in_image(ref: str, *command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``command`` in a container of ``ref``, as its user, with its env and workdir.

    buildah's chroot isolation: no runtime, so it works inside this machine's own container.
    """
    container = buildah("from", "--pull=never", "--quiet", ref).strip()
    try:
        return subprocess.run(
            ["bash", str(SCRIPT), "buildah", "run", "--isolation", "chroot", container, "--", *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        buildah("rm", container)


def mounted_rootfs(ref: str) -> tuple[str, Path]:
    """A working container of ``ref`` and its root filesystem, mounted (``buildah rm`` undoes)."""
    container = buildah("from", "--pull=never", "--quiet", ref).strip()
    return container, Path(buildah("mount", container).strip())


def environ_without_python() -> dict[str, str]:
    """This process's env minus what points at the dev venv (the image has its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
