"""Deleting an owner garbage-collects its children: the controller-manager's GC is real."""

from __future__ import annotations

import pytest

from tests.integration.kube import manifests
from tests.support.kube import KubePlane, wait_until

pytestmark = pytest.mark.kube


def _config_maps(kube_plane: KubePlane, namespace: str) -> set[str]:
    items = kube_plane.kubectl_json("get", "configmaps", "-n", namespace)["items"]
    return {cm["metadata"]["name"] for cm in items} - {"kube-root-ca.crt"}


def test_deleting_an_owner_deletes_its_children_in_the_background(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    ns = kube_namespace
    kube_plane.kubectl("create", "configmap", "owner", "-n", ns, "--from-literal=role=owner")
    owner = kube_plane.kubectl_json("get", "configmap", "owner", "-n", ns)
    children = [manifests.config_map(f"child-{i}", {"i": str(i)}, owner=owner) for i in range(3)]
    bystander = manifests.config_map("bystander", {"owned": "no"})
    kube_plane.kubectl("apply", "-n", ns, "-f", "-", input=manifests.dump(*children, bystander))
    assert _config_maps(kube_plane, ns) == {"owner", "child-0", "child-1", "child-2", "bystander"}

    kube_plane.kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=background")

    wait_until(
        lambda: _config_maps(kube_plane, ns) == {"bystander"},
        "the garbage collector to delete the owner's children",
    )


def test_foreground_deletion_of_a_deployment_removes_its_replica_sets_and_pods_first(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    ns = kube_namespace
    kube_plane.kubectl(
        "apply", "-n", ns, "-f", "-", input=manifests.dump(manifests.deployment("gc", replicas=2))
    )
    kube_plane.kubectl("rollout", "status", "-n", ns, "deployment/gc", "--timeout=120s")
    assert kube_plane.kubectl_json("get", "pods", "-n", ns, "-l", "app=gc")["items"]

    # --wait returns once the Deployment is gone, which foreground deletion allows only
    # after the GC has removed every dependent with blockOwnerDeletion (RS, then pods).
    kube_plane.kubectl(
        "delete", "deployment", "gc", "-n", ns, "--cascade=foreground", "--wait", "--timeout=120s"
    )

    assert kube_plane.kubectl_json("get", "replicasets", "-n", ns)["items"] == []
    assert kube_plane.kubectl_json("get", "pods", "-n", ns)["items"] == []
