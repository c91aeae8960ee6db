"""KubeRay for tests: its real CRDs and its real controller, built from the pinned Go module.

`hack/kube-addons.sh build kuberay` builds `ray-operator` and copies `config/crd/bases/` of the
same release into the cache; `make kube-plane` runs it, and so does `pytest_collection_finish`
here when a selected test needs KubeRay (a cold build takes longer than a test's timeout).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest

from tests.support.addons import build_addon
from tests.support.kube import KubePlane

BUILD_RESULT: Final = pytest.StashKey[Path | str]()
FIXTURE_NAMES: Final = frozenset({"kuberay_crds", "kuberay_dir"})
CRDS: Final = ("ray.io_rayjobs.yaml", "ray.io_rayclusters.yaml")


def build_kuberay() -> Path | str:
    """The cached KubeRay dir (bin/ray-operator, config/crd/bases/), or why the build failed."""
    return build_addon("kuberay")


def kuberay_dir_for(config: pytest.Config) -> Path:
    built = config.stash.get(BUILD_RESULT, None)
    if built is None:
        built = config.stash[BUILD_RESULT] = build_kuberay()
    if isinstance(built, str):
        pytest.fail(built, pytrace=False)
    return built


def build_at_collection(session: pytest.Session) -> None:
    """Build KubeRay before any test runs when a selected test uses it."""
    if BUILD_RESULT in session.config.stash:
        return
    if any(FIXTURE_NAMES.intersection(getattr(item, "fixturenames", ())) for item in session.items):
        session.config.stash[BUILD_RESULT] = build_kuberay()


def wait_established(plane: KubePlane, crd: str, timeout: float = 60.0) -> None:
    """Until the CRD is served (`kubectl wait` errors while the CRD has no status yet)."""
    deadline = time.monotonic() + timeout
    path = '{.status.conditions[?(@.type=="Established")].status}'
    while plane.kubectl("get", "crd", crd, f"-o=jsonpath={path}", check=False).stdout != "True":
        if time.monotonic() > deadline:
            pytest.fail(f"CRD {crd} not Established in {timeout:.0f}s")
        time.sleep(0.2)


def install_crds(plane: KubePlane, kuberay: Path) -> None:
    """Install RayJob and RayCluster (create: the RayJob CRD is too big for client-side apply)."""
    for name in CRDS:
        crd = name.removeprefix("ray.io_").removesuffix(".yaml") + ".ray.io"
        if plane.kubectl("get", "crd", crd, check=False).returncode != 0:
            plane.kubectl("create", "-f", str(kuberay / "config" / "crd" / "bases" / name))
        wait_established(plane, crd)


def uninstall_rayjob_crd(plane: KubePlane) -> None:
    plane.kubectl("delete", "crd", "rayjobs.ray.io", "--ignore-not-found", "--wait=true")


@contextmanager
def kuberay_controller(
    plane: KubePlane, kuberay: Path, namespace: str, log: Path
) -> Iterator[None]:
    """KubeRay's real controller, watching one namespace, leader election off."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(kuberay / "bin" / "ray-operator"),
                f"-kubeconfig={plane.kubeconfig}",
                f"-watch-namespace={namespace}",
                "-enable-leader-election=false",
                "-metrics-addr=0",
                "-health-probe-bind-address=0",
                "-log-stdout-encoder=console",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(plane.env),
        )
        try:
            time.sleep(0.5)
            if proc.poll() is not None:
                pytest.fail(f"ray-operator exited {proc.returncode}:\n{log.read_text()}")
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
