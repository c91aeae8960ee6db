"""RBAC is on and service account tokens authenticate against the real API server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.kube import manifests
from tests.support.kube import KubePlane

pytestmark = pytest.mark.kube


@pytest.fixture
def pod_reader(kube_plane: KubePlane, kube_namespace: str) -> str:
    """A ServiceAccount bound to a Role that may only read pods; yields its user name."""
    ns = kube_namespace
    kube_plane.kubectl("create", "serviceaccount", "reader", "-n", ns)
    kube_plane.kubectl(
        "apply", "-n", ns, "-f", "-",
        input=manifests.dump(
            manifests.role("pod-reader", resources=["pods"], verbs=["get", "list", "watch"]),
            manifests.role_binding(
                "pod-reader", role="pod-reader", service_account="reader", namespace=ns
            ),
        ),
    )  # fmt: skip
    return f"system:serviceaccount:{ns}:reader"


def _can_i(kube_plane: KubePlane, user: str, *request: str) -> str:
    # Exit code 0 means yes and 1 means no; anything else is an error worth seeing.
    result = kube_plane.kubectl("auth", "can-i", f"--as={user}", *request, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.strip()


def test_can_i_answers_per_role_binding(
    kube_plane: KubePlane, kube_namespace: str, pod_reader: str
) -> None:
    ns = kube_namespace
    assert _can_i(kube_plane, pod_reader, "list", "pods", "-n", ns) == "yes"
    assert _can_i(kube_plane, pod_reader, "get", "pods/anything", "-n", ns) == "yes"
    assert _can_i(kube_plane, pod_reader, "delete", "pods", "-n", ns) == "no"
    assert _can_i(kube_plane, pod_reader, "list", "secrets", "-n", ns) == "no"
    assert _can_i(kube_plane, pod_reader, "list", "pods", "-n", "default") == "no"
    assert _can_i(kube_plane, pod_reader, "list", "nodes") == "no"


def _token_kubeconfig(kube_plane: KubePlane, token: str, path: Path) -> Path:
    """A kubeconfig for the plane that authenticates with ``token`` and nothing else."""
    admin = kube_plane.kubectl_json("config", "view", "--raw", "--minify")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": "token", "user": {"token": token}}],
        "contexts": [
            {"name": "token", "context": {"cluster": admin["clusters"][0]["name"], "user": "token"}}
        ],
        "current-context": "token",
    }
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def test_a_service_account_token_authenticates_and_is_authorized_per_rbac(
    kube_plane: KubePlane, kube_namespace: str, pod_reader: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    token = kube_plane.kubectl("create", "token", "reader", "-n", ns).stdout.strip()
    kubeconfig = str(_token_kubeconfig(kube_plane, token, tmp_path / "reader.kubeconfig"))

    whoami = kube_plane.kubectl_json("auth", "whoami", "--kubeconfig", kubeconfig)
    assert whoami["status"]["userInfo"]["username"] == pod_reader
    kube_plane.kubectl("get", "pods", "-n", ns, "--kubeconfig", kubeconfig)
    denied = kube_plane.kubectl("get", "secrets", "-n", ns, "--kubeconfig", kubeconfig, check=False)
    assert denied.returncode != 0
    assert f'User "{pod_reader}" cannot list resource "secrets"' in denied.stderr


def test_an_unknown_token_is_refused(kube_plane: KubePlane, tmp_path: Path) -> None:
    kubeconfig = str(_token_kubeconfig(kube_plane, "not-a-token", tmp_path / "bad.kubeconfig"))
    result = kube_plane.kubectl("get", "pods", "--kubeconfig", kubeconfig, check=False)
    assert result.returncode != 0
    assert "Unauthorized" in result.stderr or "credentials" in result.stderr
