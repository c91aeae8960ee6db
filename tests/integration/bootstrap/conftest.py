"""A cluster.yaml against the fake OpenStack, whose server VM is a real sshd on loopback.

The VM's k3s is the session's real Kubernetes plane: sshd serves its kubeconfig as the VM's
/etc/rancher/k3s/k3s.yaml, and a VM turning ACTIVE registers a kwok node of its name, as
k3s's agent would register itself (kwok then reports it Ready).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from starcast.cli import app
from tests.support.kube import KubePlane, kube_plane, pytest_collection_finish
from tests.support.openstack_cloud import FakeOpenStack, fake_openstack
from tests.support.ssh_server import SshServer, cloud_init_console, ssh_server

__all__ = ["fake_openstack", "kube_plane", "pytest_collection_finish", "ssh_server"]

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Cluster:
    """Paths and helpers of one test's cluster: its cluster.yaml, clouds.yaml and state."""

    cloud: FakeOpenStack
    config_path: Path
    env: dict[str, str]
    state_dir: Path
    name: str
    raw: dict[str, Any] = field(default_factory=dict)

    def write(self, **changes: Any) -> None:
        self.raw.update(changes)
        self.config_path.write_text(yaml.safe_dump(self.raw))

    def run(self, *args: str) -> Any:
        """`starcast bootstrap ARGS -f cluster.yaml` in this process."""
        runner = CliRunner()
        return runner.invoke(app, ["bootstrap", *args, "-f", str(self.config_path)], env=self.env)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        command = [
            sys.executable,
            "-m",
            "starcast",
            "bootstrap",
            *args,
            "-f",
            str(self.config_path),
        ]
        return subprocess.Popen(
            command,
            env={**os.environ, **self.env},
            cwd=REPO_ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )


def base_config(name: str, state_dir: Path) -> dict[str, Any]:
    return {
        "cloud": "fake",
        "name": name,
        "image": "debian-12-genericcloud-amd64",
        "server_flavor": "m1.medium",
        "agent_flavor": "m1.large",
        "agents": 2,
        "external_network": "public",
        "admin_cidrs": ["127.0.0.0/8"],
        "k3s": {"version": "v1.31.4+k3s1"},
        "state_dir": str(state_dir),
        "timeouts": {"poll_interval": 0.05, "kubeconfig": 30, "api": 30, "nodes_ready": 60},
    }


@pytest.fixture
def cluster(tmp_path: Path, fake_openstack: FakeOpenStack) -> Cluster:
    """A cluster.yaml for the fake cloud (no SSH, no Kubernetes: for plan, faults, down)."""
    clouds = fake_openstack.write_clouds_yaml(tmp_path)
    name = f"c{uuid.uuid4().hex[:6]}"
    state_dir = tmp_path / "state"
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds), "STARCAST_LOG_LEVEL": "INFO"}
    result = Cluster(fake_openstack, tmp_path / "cluster.yaml", env, state_dir, name)
    result.write(**base_config(name, state_dir))
    return result


def _register_kwok_node(plane: KubePlane, name: str) -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {"type": "bootstrap-test", "kubernetes.io/hostname": name},
        },
        "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}},
    }
    plane.kubectl("apply", "-f", "-", input=yaml.safe_dump(node))


def as_k3s_writes_it(kubeconfig: str) -> str:
    """The plane's kubeconfig with k3s's entry names ("default" cluster, user and context)."""
    document = yaml.safe_load(kubeconfig)
    (cluster,), (user,), (context,) = document["clusters"], document["users"], document["contexts"]
    cluster["name"] = user["name"] = context["name"] = "default"
    context["context"].update(cluster="default", user="default")
    document["current-context"] = "default"
    return yaml.safe_dump(document)


@pytest.fixture
def live_cluster(
    cluster: Cluster, ssh_server: SshServer, kube_plane: KubePlane
) -> Iterator[Cluster]:
    """The cluster with a reachable "server VM": sshd with the plane's kubeconfig, kwok nodes."""
    ssh_server.kubeconfig.write_text(as_k3s_writes_it(kube_plane.kubeconfig.read_text()))
    state = cluster.cloud.state
    state.console_output = cloud_init_console(ssh_server.host_public_key)
    state.authorized_keys = ssh_server.authorized_keys
    registered: list[str] = []

    def on_active(name: str) -> None:
        _register_kwok_node(kube_plane, name)
        registered.append(name)

    state.on_active = on_active
    cluster.write(ssh_user=ssh_server.user, ssh_port=ssh_server.port)
    yield cluster
    for name in set(registered):
        kube_plane.kubectl("delete", "node", name, "--ignore-not-found", "--wait=false")
