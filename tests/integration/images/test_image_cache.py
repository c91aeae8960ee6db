"""hack/images.sh's cache: nothing changed is a hit in seconds, a changed input is a rebuild.

The miss is a real rebuild (of the frontend, from a copy of the repository with one source file
changed), so the key is shown to cover what the Dockerfile copies, not just to differ.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Final

import pytest

from tests.integration.images.built import (
    REPO,
    BuiltImage,
    build,
    buildah,
    image_config,
    images_script,
    mounted_rootfs,
    run_in_image,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# What hack/images.sh reads to build the project images.
INPUTS: Final = ("images", "hack/images.sh", "hack/images", "charts", "pyproject.toml", "README.md",
                 "starcast", ".dockerignore")


def copy_inputs(target: Path) -> Path:
    for name in INPUTS:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / name)
    return target


def test_a_second_build_with_nothing_changed_is_all_cache_hits(
    built_images: dict[str, BuiltImage],
) -> None:
    archives = images_script("archives").stdout.split()
    again = build()
    assert sorted(again) == sorted(built_images)
    assert all(image.cached for image in again.values()), again
    assert images_script("archives").stdout.split() == archives
    assert all(Path(path).is_file() for path in archives)


def test_a_changed_source_file_rebuilds_the_image_with_it(
    built_images: dict[str, BuiltImage], tmp_path: Path
) -> None:
    original = images_script("archives", "frontend").stdout.strip()
    copy = copy_inputs(tmp_path / "repo")
    marker = "# changed by tests/integration/images/test_image_cache.py"
    with (copy / "starcast" / "__init__.py").open("a") as source:
        source.write(f"\n{marker}\n")
    changed = images_script("archives", "frontend", repo=copy).stdout.strip()
    assert changed != original
    try:
        rebuilt = build("frontend", repo=copy)["frontend"]
        assert rebuilt.cached  # `archives` above built it: the changed key is cached now
        init = run_in_image(rebuilt.ref, "bash", "-c",
                            "cat /opt/venv/lib/python3*/site-packages/starcast/__init__.py")
        assert marker in init.stdout, init.stderr
    finally:
        for leftover in Path(changed).parent.glob(Path(changed).name + "*"):
            leftover.unlink()
        build("frontend")  # the reference back on this checkout's cached image
    assert images_script("archives", "frontend").stdout.strip() == original
    init = run_in_image(built_images["frontend"].ref, "bash", "-c",
                        "cat /opt/venv/lib/python3*/site-packages/starcast/__init__.py")
    assert marker not in init.stdout


def static_binary() -> Path:
    """kwok from the plane's cache: a static Go program, as the lead's pause/CoreDNS/Traefik are."""
    result = subprocess.run(["bash", str(REPO / "hack/kube-plane.sh"), "build"], capture_output=True,
                            text=True, timeout=3600, check=False)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1]) / "kwok"


def test_binary_image_holds_the_files_runs_them_and_is_cached_by_their_hash(tmp_path: Path) -> None:
    binary = tmp_path / "kwok"
    shutil.copy2(static_binary(), binary)
    ref = "localhost/starcast-test/binary-image:probe"
    first = images_script("binary-image", ref, str(binary), "--", "/kwok", "--help").stdout.strip()
    assert images_script("binary-image", ref, str(binary), "--", "/kwok", "--help").stdout.strip() == first
    config = image_config(ref)
    assert config.entrypoint == ["/kwok", "--help"]
    container, rootfs = mounted_rootfs(ref)
    try:
        assert sorted(p.name for p in rootfs.iterdir()) == ["kwok"]
    finally:
        buildah("umount", container)
        buildah("rm", container)
    ran = run_in_image(ref, "/kwok", "--version")
    assert ran.returncode == 0 and "kwok" in (ran.stdout + ran.stderr).lower(), ran.stderr
    with binary.open("ab") as changed:
        changed.write(b"\0")
    second = images_script("binary-image", ref, str(binary)).stdout.strip()
    assert second != first
    assert image_config(ref).entrypoint == ["/kwok"]  # the first file, when none is given
    for archive in (first, second):
        for leftover in Path(archive).parent.glob(Path(archive).name + "*"):
            leftover.unlink()
    buildah("rmi", ref)
