"""Real resource metrics on the plane: kwok reports pod CPU, metrics-server serves metrics.k8s.io.

So that the real HPA controller (in the plane's kube-controller-manager) scales on CPU:

- a node of its own (``kwok.x-k8s.io/node: metrics``) played by a second, real kwok process that
  also serves kwok's ``Metric`` (``/metrics/nodes/{node}/metrics/resource``, the kubelet's
  resource endpoint) with a ``ClusterResourceUsage`` that reads each pod's CPU from its annotation
  ``kwok.x-k8s.io/usage-cpu`` (both from kwok's own kustomize/metrics, in its module). The plane's
  kwok and its three nodes stay as they are; workloads that need metrics select this node.
- metrics-server, built from its module (hack/kube/addons/metrics-server), with the RBAC of its
  release manifests and a ServiceAccount token, scraping that node over plain HTTP (kwok's
  server has no TLS) at the node's InternalIP, 127.0.0.1 (only this node: --node-selector).
- its APIService ``v1beta1.metrics.k8s.io`` with an ExternalName Service to localhost, as kwokctl
  registers it; the plane's API server has the aggregation flags for it. The APIService goes
  away before metrics-server stops, so an unavailable API never breaks discovery for others.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
import yaml

from starcast.up.processes import ManagedProcess, WaitError, free_port, wait_until
from tests.support.addons import build_addon
from tests.support.kube import REPO_ROOT, KubePlane

KWOK_MODULE_DIR: Final = REPO_ROOT / "hack" / "kube" / "kwok"
METRICS_NODE_ANNOTATION: Final = "kwok.x-k8s.io/node=metrics"
USAGE_CPU_ANNOTATION: Final = "kwok.x-k8s.io/usage-cpu"
RESOLUTION_S: Final = 10  # metrics-server's smallest --metric-resolution
START_TIMEOUT_S: Final = 120.0
FIXTURE: Final = "resource_metrics"
BUILD_RESULT: Final = pytest.StashKey[Path | str]()


@dataclass(frozen=True)
class MetricsStack:
    node: str  # the node whose pods have metrics; select it with kubernetes.io/hostname
    processes: tuple[ManagedProcess, ...]


def build_metrics_server() -> Path | str:
    """metrics-server's addon dir, built once per machine; or why it could not be built."""
    return build_addon("metrics-server")


def build_at_collection_finish(session: pytest.Session) -> None:
    """Build metrics-server before any test runs (outside per-test timeouts), if a test needs it."""
    if BUILD_RESULT in session.config.stash:
        return
    if any(FIXTURE in getattr(item, "fixturenames", ()) for item in session.items):
        session.config.stash[BUILD_RESULT] = build_metrics_server()


@pytest.fixture
def resource_metrics(
    kube_plane: KubePlane, pytestconfig: pytest.Config, tmp_path: Path
) -> Iterator[MetricsStack]:
    """kwok with resource usage on a node of its own, metrics-server, and its APIService."""
    built = pytestconfig.stash.get(BUILD_RESULT, None)
    if built is None:
        built = pytestconfig.stash[BUILD_RESULT] = build_metrics_server()
    if isinstance(built, str):
        pytest.fail(built, pytrace=False)
    with metrics_stack(kube_plane, built, tmp_path) as stack:
        yield stack


def _kwok_module_dir() -> Path:
    result = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
        cwd=KWOK_MODULE_DIR,
        capture_output=True,
        text=True,
        check=True,
        env={**_go_env(), "GOFLAGS": "-mod=readonly"},
    )
    return Path(result.stdout.strip())


def _go_env() -> dict[str, str]:
    import os

    return {**os.environ, "GOWORK": "off", "GOTOOLCHAIN": "local"}


def _node(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                "kwok.x-k8s.io/node": "metrics",
                "node.alpha.kubernetes.io/ttl": "0",
                "metrics.k8s.io/resource-metrics-path": f"/metrics/nodes/{name}/metrics/resource",
            },
            "labels": {
                "type": "kwok-metrics",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "status": {
            # Where metrics-server finds this node's kubelet endpoint: kwok's server on loopback.
            # Both types, or kwok's node-initialize stage rewrites the list without ours.
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"},
            "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"},
        },
    }


def _kubeconfig_for_token(plane: KubePlane, token: str, path: Path) -> Path:
    admin = plane.kubectl_json("config", "view", "--raw", "--minify")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": "metrics-server", "user": {"token": token}}],
        "contexts": [
            {
                "name": "metrics-server",
                "context": {"cluster": admin["clusters"][0]["name"], "user": "metrics-server"},
            }
        ],
        "current-context": "metrics-server",
    }
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


@contextmanager
def metrics_stack(plane: KubePlane, addon: Path, workdir: Path) -> Iterator[MetricsStack]:
    """kwok with resource usage on a node of its own, metrics-server (built in ``addon``), and
    the APIService."""
    kwok_dir = _kwok_module_dir()
    config = workdir / "kwok-metrics.yaml"
    config.write_text(
        "\n---\n".join(
            path.read_text()
            for path in (
                plane.bin_dir / "kwok-stages.yaml",
                kwok_dir / "kustomize/metrics/resource/metrics-resource.yaml",
                kwok_dir / "kustomize/metrics/usage/usage-from-annotation.yaml",
            )
        )
    )
    node = f"kwok-metrics-{uuid.uuid4().hex[:6]}"
    kwok_port = free_port()
    env = dict(plane.env)
    kwok = ManagedProcess(
        "kwok-metrics",
        [
            str(plane.bin_dir / "kwok"), f"--kubeconfig={plane.kubeconfig}", f"--config={config}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={METRICS_NODE_ANNOTATION}",
            "--cidr=10.246.0.0/16", "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{kwok_port}",
        ],
        env,
        workdir / "kwok-metrics.log",
    )  # fmt: skip
    try:
        kwok.start()
        plane.kubectl("apply", "-f", "-", input=json.dumps(_node(node)))
        wait_until(
            lambda: (
                plane.kubectl(
                    "wait", f"node/{node}", "--for=condition=Ready", "--timeout=2s", check=False
                ).returncode
                == 0
            ),
            f"node {node} Ready",
            [kwok],
            timeout_s=START_TIMEOUT_S,
        )
        kubelet_flags = [
            f"--kubelet-port={kwok_port}", "--deprecated-kubelet-completely-insecure",
            "--node-selector=type=kwok-metrics",
        ]  # fmt: skip
        with metrics_server(plane, addon, workdir, kubelet_flags) as server:
            yield MetricsStack(node, (kwok, server))
    finally:
        kwok.stop(15)
        plane.kubectl("delete", "node", node, "--ignore-not-found", "--wait=false")


@contextmanager
def metrics_server(
    plane: KubePlane, addon: Path, workdir: Path, kubelet_flags: list[str]
) -> Iterator[ManagedProcess]:
    """metrics-server (built in ``addon``) scraping the kubelets ``kubelet_flags`` say, behind
    the APIService ``v1beta1.metrics.k8s.io``; both removed on exit."""
    rbac = addon / "manifests/base/rbac.yaml"
    server_port = free_port()
    env = dict(plane.env)
    processes: list[ManagedProcess] = []
    try:
        plane.kubectl("apply", "-n", "kube-system", "-f", str(rbac))
        token = plane.kubectl(
            "create", "token", "metrics-server", "-n", "kube-system", "--duration=6h"
        ).stdout.strip()
        kubeconfig = _kubeconfig_for_token(plane, token, workdir / "metrics-server.kubeconfig")
        server = ManagedProcess(
            "metrics-server",
            [
                str(addon / "bin" / "metrics-server"), f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1", f"--secure-port={server_port}",
                f"--cert-dir={workdir / 'metrics-server-certs'}",
                "--kubelet-preferred-address-types=InternalIP",
                f"--metric-resolution={RESOLUTION_S}s",
                "--kubelet-request-timeout=5s",  # must be below the resolution
                *kubelet_flags,
            ],
            env,
            workdir / "metrics-server.log",
        )  # fmt: skip
        processes.append(server)
        server.start()
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "metrics-server", "namespace": "kube-system"},
            "spec": {"type": "ExternalName", "externalName": "localhost"},
        }
        documents = list(yaml.safe_load_all((addon / "manifests/base/apiservice.yaml").read_text()))
        apiservice = next(d for d in documents if d and d["kind"] == "APIService")
        apiservice["spec"]["service"]["port"] = server_port
        plane.kubectl("apply", "-f", "-", input=json.dumps(service))
        plane.kubectl("apply", "-f", "-", input=json.dumps(apiservice))

        # Available, and serving: a node has metrics only once pods on it use CPU
        # (metrics-server drops a node whose cumulative CPU is still 0).
        def pod_metrics() -> bool:
            path = "/apis/metrics.k8s.io/v1beta1/pods"
            return plane.kubectl("get", "--raw", path, check=False).returncode == 0

        try:
            wait_until(pod_metrics, "metrics.k8s.io served through the APIService", processes,
                       timeout_s=START_TIMEOUT_S)  # fmt: skip
        except WaitError as error:
            conditions = plane.kubectl(
                "get", "apiservice", "v1beta1.metrics.k8s.io",
                "-o=jsonpath={.status.conditions}", check=False,
            ).stdout  # fmt: skip
            raise WaitError(f"{error}\nAPIService: {conditions}") from error
        yield server
    finally:
        plane.kubectl("delete", "apiservice", "v1beta1.metrics.k8s.io", "--ignore-not-found")
        plane.kubectl("delete", "service", "metrics-server", "-n", "kube-system",
                      "--ignore-not-found")  # fmt: skip
        for process in reversed(processes):
            process.stop(15)
