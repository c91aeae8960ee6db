"""The plane is a real cluster: the pinned versions and kwok nodes with real capacity."""

from __future__ import annotations

import json

import pytest

from tests.support.kube import KubePlane

pytestmark = pytest.mark.kube


def test_server_and_client_report_the_pinned_version(kube_plane: KubePlane) -> None:
    versions = json.loads(kube_plane.kubectl("version", "--output=json").stdout)
    pinned = kube_plane.versions["KUBE_VERSION"]
    assert versions["clientVersion"]["gitVersion"] == pinned
    if kube_plane.state_dir is not None:  # our own plane, not STARCAST_TEST_KUBECONFIG
        assert versions["serverVersion"]["gitVersion"] == pinned
    helm_version = kube_plane.helm("version", "--template={{.Version}}").stdout
    assert helm_version == kube_plane.versions["HELM_VERSION"]


def test_at_least_three_ready_nodes_with_capacity(kube_plane: KubePlane) -> None:
    nodes = json.loads(kube_plane.kubectl("get", "nodes", "--output=json").stdout)["items"]
    assert len(nodes) >= 3
    for node in nodes:
        conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conditions["Ready"] == "True", node["metadata"]["name"]
        assert node["status"]["allocatable"]["pods"] == "110"
        assert node["spec"].get("unschedulable") is not True


def test_api_server_enforces_rbac_and_authenticates(kube_plane: KubePlane) -> None:
    modes = kube_plane.kubectl("auth", "whoami", "--output=json").stdout
    assert "system:masters" in json.loads(modes)["status"]["userInfo"]["groups"]
    anonymous = kube_plane.kubectl("auth", "can-i", "list", "secrets", "--as=nobody", check=False)
    assert anonymous.returncode == 1
    assert anonymous.stdout.strip() == "no"
