"""Deployments roll out on kwok nodes: the scheduler and controllers are real."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.kube import manifests
from tests.support.kube import KubePlane, wait_until

pytestmark = pytest.mark.kube

NEW_IMAGE = "registry.k8s.io/pause:3.9"


def _pods(kube_plane: KubePlane, namespace: str, selector: str) -> list[dict[str, Any]]:
    pods: list[dict[str, Any]] = kube_plane.kubectl_json(
        "get", "pods", "-n", namespace, "-l", selector
    )["items"]
    return pods


def _image(obj: dict[str, Any]) -> str:
    image: str = obj["spec"]["containers"][0]["image"]
    return image


def test_deployment_rolls_out_with_running_pods_on_kwok_nodes(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    ns = kube_namespace
    kube_plane.kubectl(
        "apply", "-n", ns, "-f", "-", input=manifests.dump(manifests.deployment("web"))
    )
    kube_plane.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=120s")

    pods = _pods(kube_plane, ns, "app=web")
    kwok_nodes = {
        n["metadata"]["name"]
        for n in kube_plane.kubectl_json("get", "nodes", "-l", "type=kwok")["items"]
    }
    assert len(pods) == 3
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    assert {p["spec"]["nodeName"] for p in pods} <= kwok_nodes
    assert all(p["status"].get("podIP") for p in pods)
    # Pods got a projected service account token: the ServiceAccount admission is real.
    volumes = {v["name"] for v in pods[0]["spec"]["volumes"]}
    assert any(v.startswith("kube-api-access-") for v in volumes)


def test_rolling_update_replaces_every_pod(kube_plane: KubePlane, kube_namespace: str) -> None:
    ns = kube_namespace
    kube_plane.kubectl(
        "apply", "-n", ns, "-f", "-", input=manifests.dump(manifests.deployment("api"))
    )
    kube_plane.kubectl("rollout", "status", "-n", ns, "deployment/api", "--timeout=120s")

    kube_plane.kubectl("set", "image", "-n", ns, "deployment/api", f"app={NEW_IMAGE}")
    kube_plane.kubectl("rollout", "status", "-n", ns, "deployment/api", "--timeout=120s")

    sets = kube_plane.kubectl_json("get", "replicasets", "-n", ns)["items"]
    replicas = {_image(rs["spec"]["template"]): rs["status"]["replicas"] for rs in sets}
    assert replicas == {manifests.PAUSE_IMAGE: 0, NEW_IMAGE: 3}
    # Old pods may still be terminating right after the rollout; kwok then removes them.
    wait_until(
        lambda: {_image(p) for p in _pods(kube_plane, ns, "app=api")} == {NEW_IMAGE},
        "the old pods to go away",
    )


def test_scheduler_leaves_a_pod_that_fits_no_node_pending(
    kube_plane: KubePlane, kube_namespace: str
) -> None:
    ns = kube_namespace
    kube_plane.kubectl(
        "apply", "-n", ns, "-f", "-", input=manifests.dump(manifests.pod("huge", "500"))
    )

    def scheduled_condition() -> dict[str, Any]:
        pod = kube_plane.kubectl_json("get", "pod", "huge", "-n", ns)
        conditions = {c["type"]: c for c in pod["status"].get("conditions", [])}
        condition: dict[str, Any] = conditions.get("PodScheduled", {})
        return condition

    wait_until(
        lambda: scheduled_condition().get("reason") == "Unschedulable",
        "the scheduler to mark the pod Unschedulable",
    )
    assert "Insufficient cpu" in scheduled_condition()["message"]
    pod = kube_plane.kubectl_json("get", "pod", "huge", "-n", ns)
    assert pod["status"]["phase"] == "Pending"
    assert "nodeName" not in pod["spec"]
