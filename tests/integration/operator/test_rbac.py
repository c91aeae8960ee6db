"""The operator's least-privilege RBAC: `kubectl auth can-i` says what it may and may not do,
and the operator, run as that ServiceAccount, still takes a TrainingRun to Succeeded."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from starcast.operator.rbac import manifests
from tests.integration.operator.conftest import TrainingNamespace
from tests.integration.operator.resources import apply, wait_phase
from tests.support.kube import KubePlane
from tests.support.operator_process import OperatorProcess
from tests.support.rayjob_executor import LocalRayJobExecutor

pytestmark = [pytest.mark.kube, pytest.mark.integration]


@pytest.fixture
def operator_account(
    kube_plane: KubePlane, training_namespace: TrainingNamespace
) -> Iterator[tuple[str, str]]:
    """The operator's ServiceAccount in its own namespace, bound to watch the training one."""
    suffix = uuid.uuid4().hex[:6]
    home = f"starcast-system-{suffix}"
    kube_plane.kubectl("create", "namespace", home)
    docs = manifests(
        service_account="starcast-operator",
        namespace=home,
        watched=[training_namespace.name],
        name=f"starcast-operator-{suffix}",
    )
    apply(kube_plane, *docs)
    try:
        yield home, f"system:serviceaccount:{home}:starcast-operator"
    finally:
        for doc in docs:
            if doc["kind"].startswith("Cluster"):
                kube_plane.kubectl(
                    "delete", doc["kind"], doc["metadata"]["name"], "--ignore-not-found"
                )
        kube_plane.kubectl("delete", "namespace", home, "--wait=false")


def _can_i(plane: KubePlane, user: str, *request: str) -> bool:
    result = plane.kubectl("auth", "can-i", f"--as={user}", *request, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.strip() == "yes"


def test_can_i_what_the_operator_needs_and_nothing_more(
    kube_plane: KubePlane,
    training_namespace: TrainingNamespace,
    operator_account: tuple[str, str],
    kube_namespace: str,
) -> None:
    watched = training_namespace.name
    home, user = operator_account
    allowed = [
        ("watch", "trainingruns.starcast.io", "-n", watched),
        ("patch", "trainingruns.starcast.io", "--subresource=status", "-n", watched),
        ("create", "rayjobs.ray.io", "-n", watched),
        ("get", "secrets/storage", "-n", watched),
        ("create", "events", "-n", watched),
        ("list", "customresourcedefinitions.apiextensions.k8s.io"),
    ]
    denied = [
        ("get", "secrets", "-n", home),
        ("get", "secrets", "-n", "default"),
        ("list", "secrets", "-n", watched),
        ("delete", "rayjobs.ray.io", "-n", watched),
        ("delete", "deployments.apps", "-n", watched),
        ("patch", "deployments.apps", "-n", watched),
        ("create", "rayjobs.ray.io", "-n", "default"),
        ("watch", "trainingruns.starcast.io", "-n", "default"),
        ("create", "pods", "-n", watched),
        ("delete", "customresourcedefinitions.apiextensions.k8s.io"),
    ]
    for request in allowed:
        assert _can_i(kube_plane, user, *request), f"operator can't {' '.join(request)}"
    for request in denied:
        assert not _can_i(kube_plane, user, *request), f"operator may {' '.join(request)}"


def _token_kubeconfig(plane: KubePlane, home: str, path: Path) -> Path:
    token = plane.kubectl(
        "create", "token", "starcast-operator", "-n", home, "--duration=1h"
    ).stdout.strip()
    admin = yaml.safe_load(plane.kubeconfig.read_text())
    admin["users"] = [{"name": "starcast-operator", "user": {"token": token}}]
    admin["contexts"][0]["context"]["user"] = "starcast-operator"
    path.write_text(yaml.safe_dump(admin))
    return path


def test_the_operator_works_with_only_those_rights(
    kube_plane: KubePlane,
    training_namespace: TrainingNamespace,
    operator_account: tuple[str, str],
    operator: OperatorProcess,
    executor: LocalRayJobExecutor,
    kuberay_crds: None,
    prepared_artifact: Callable[[str], None],
    tmp_path: Path,
) -> None:
    ns = training_namespace.name
    home, _ = operator_account
    executor.serve(ns)
    operator.stop()  # the admin one: only the least-privileged operator may act here
    limited = OperatorProcess(
        operator.env | {"KUBECONFIG": str(_token_kubeconfig(kube_plane, home, tmp_path / "kc"))},
        tmp_path / "limited.log",
        "--standalone",
        "--namespace",
        ns,
    ).start()
    try:
        apply(
            kube_plane,
            training_namespace.run("least"),
        )
        wait_phase(kube_plane, "least", ns, "Succeeded", log=limited.log_tail)
        assert "Forbidden" not in limited.log_tail(200_000)
    finally:
        limited.stop()
        operator.start()
