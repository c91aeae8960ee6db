"""The plane with a real node beside its kwok nodes: real pods of the project's own images.

``hack/kube-plane.sh up`` with ``STARCAST_KUBE_REAL_NODE=1`` adds the node of
``hack/kube-node.sh`` (containerd, runc, kubelet, kube-proxy, the CNI bridge, CoreDNS and
Traefik as pods). The images built from ``images/*/Dockerfile`` by ``hack/images.sh`` are
imported into the node's containerd under the references the charts' defaults name, so the
charts install with their default images, as on a cluster whose nodes have them.

Building the node's pieces and the images can take longer than a test's timeout, so it runs
at the end of collection when a selected test uses the fixture (``build_at_collection_finish``).
Nothing here is stood in: a pod that is Ready passed its real probes.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tests.support.kube import REPO_ROOT, KubePlane, start_plane, stop_plane

NODE_SCRIPT: Final = REPO_ROOT / "hack" / "kube-node.sh"
IMAGES_SCRIPT: Final = REPO_ROOT / "hack" / "images.sh"
# The images the e2e tests run; the trainer joins them with part 2 (KubeRay on real pods).
E2E_IMAGES: Final = ("operator", "frontend", "worker", "rabbitmq")
BUILD_TIMEOUT_S: Final = 60 * 60
UP_TIMEOUT_S: Final = 600
# How a workload asks for the real node (hack/kube-node.sh; tests/e2e/values/).
NODE_SELECTOR: Final = {"starcast.io/node": "real"}
NODE_TAINT_KEY: Final = "starcast.io/real-node"
BUILD_RESULT: Final = pytest.StashKey[str | None]()
FIXTURE: Final = "real_cluster"


@dataclass(frozen=True)
class RealCluster:
    """A running plane with its real node; ``images`` maps image names to references."""

    plane: KubePlane
    node: str
    node_ip: str
    ingress_ip: str
    images: dict[str, str]

    def tolerations(self) -> list[dict[str, str]]:
        return [{"key": NODE_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]


def _run(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def build_node_and_images() -> str | None:
    """Build (or find cached) the node's pieces and the e2e images; None, or why not."""
    for argv in (
        ["bash", str(NODE_SCRIPT), "build"],
        ["bash", str(IMAGES_SCRIPT), "build", *E2E_IMAGES],
    ):
        try:
            result = _run(argv, BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return f"{' '.join(argv[1:])} did not finish in {BUILD_TIMEOUT_S}s"
        if result.returncode != 0:
            return f"{' '.join(argv[1:])} failed:\n{result.stderr}"
        print(result.stdout, end="")  # each image's size and build time, in the test log
    return None


def build_at_collection_finish(session: pytest.Session) -> None:
    if BUILD_RESULT in session.config.stash:
        return
    if any(FIXTURE in getattr(item, "fixturenames", ()) for item in session.items):
        session.config.stash[BUILD_RESULT] = build_node_and_images()


def image_refs(names: Sequence[str]) -> dict[str, str]:
    refs = {}
    for name in names:
        result = _run(["bash", str(IMAGES_SCRIPT), "ref", name], 120)
        assert result.returncode == 0, f"hack/images.sh ref {name}:\n{result.stderr}"
        refs[name] = result.stdout.strip()
    return refs


def import_images(plane: KubePlane, names: Sequence[str]) -> None:
    """Load the images' OCI archives into the node's containerd (``ctr images import``)."""
    archives = _run(["bash", str(IMAGES_SCRIPT), "archives", *names], BUILD_TIMEOUT_S)
    assert archives.returncode == 0, f"hack/images.sh archives:\n{archives.stderr}"
    result = subprocess.run(
        ["bash", str(NODE_SCRIPT), "import", *archives.stdout.split()],
        capture_output=True,
        text=True,
        env=plane.env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"hack/kube-node.sh import:\n{result.stderr}"


@contextmanager
def real_cluster_running(
    pytestconfig: pytest.Config, images: Sequence[str] = E2E_IMAGES
) -> Iterator[RealCluster]:
    """Start a plane with a real node, import ``images`` into it, stop it all on exit."""
    built = pytestconfig.stash.get(BUILD_RESULT, "unset")
    if built == "unset":
        built = pytestconfig.stash[BUILD_RESULT] = build_node_and_images()
    if built is not None:
        pytest.fail(built, pytrace=False)
    state_dir = Path(tempfile.mkdtemp(prefix="starcast-kube-node-"))
    plane = start_plane(state_dir, {"STARCAST_KUBE_REAL_NODE": "1"}, timeout=UP_TIMEOUT_S)
    try:
        if images:
            import_images(plane, images)
        yield RealCluster(
            plane=plane,
            node=plane.env["STARCAST_KUBE_NODE"],
            node_ip=plane.env["STARCAST_KUBE_NODE_IP"],
            ingress_ip=plane.env["STARCAST_KUBE_INGRESS_IP"],
            images=image_refs(images),
        )
    finally:
        stop_plane(plane)


@dataclass(frozen=True)
class HostState:
    """What a node could leave behind on this machine, outside its state dir."""

    processes: frozenset[str]
    mounts: frozenset[str]
    netns: frozenset[str]
    links: frozenset[str]
    iptables_rules: frozenset[str]
    cgroups: frozenset[str]
    sysctls: tuple[tuple[str, str], ...]


def _lines(argv: Sequence[str]) -> frozenset[str]:
    result = _run(argv, 60)
    assert result.returncode == 0, f"{' '.join(argv)}: {result.stderr}"
    return frozenset(line for line in result.stdout.splitlines() if line.strip())


def host_state(marker: str) -> HostState:
    """The machine's processes and mounts naming ``marker`` (a state dir), and its network
    namespaces, links, iptables rules, node cgroups and the sysctls a node sets."""
    processes = frozenset(
        cmdline
        for cmdline in (_cmdline(proc) for proc in Path("/proc").iterdir() if proc.name.isdigit())
        if marker in cmdline
    )
    mounts = frozenset(
        line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
    )
    cgroups = frozenset(
        str(path) for path in Path("/sys/fs/cgroup").glob("*/starcast-node-*") if path.is_dir()
    )
    sysctls = tuple(
        (key, Path("/proc/sys", *key.split(".")).read_text().strip())
        for key in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables")
        if Path("/proc/sys", *key.split(".")).exists()
    )
    return HostState(
        processes=processes,
        mounts=mounts,
        netns=_lines(["ip", "netns", "list"]),
        links=frozenset(
            line.split(":")[1].strip().split("@")[0] for line in _lines(["ip", "-o", "link"])
        ),
        iptables_rules=_iptables_rules(),
        cgroups=cgroups,
        sysctls=sysctls,
    )


def _iptables_rules() -> frozenset[str]:
    """Every chain and rule of iptables-save, without its comments and packet counters."""
    return frozenset(
        re.sub(r" \[\d+:\d+\]$", "", line)
        for line in _lines(["iptables-save"])
        if not line.startswith("#")
    )


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
