"""`down`: only what carries the cluster's tag, dependents first; a second `down` does nothing."""

from __future__ import annotations

import pytest

from tests.integration.bootstrap.conftest import Cluster
from tests.integration.bootstrap.expectations import resource_counts, shape
from tests.support.kube import KubePlane
from tests.support.openstack_cloud import FakeOpenStack

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def _someone_elses(cloud: FakeOpenStack, cluster: str) -> None:
    """Untagged networks (one named like ours), another cluster's port and server, a keypair
    uploaded by hand."""
    state = cloud.state
    for network_id, name in (("theirs", "their-net"), ("namesake", f"{cluster}-net")):
        state.table("networks")[network_id] = {
            "id": network_id,
            "name": name,
            "tags": [],
            "subnets": [],
            "router:external": False,
        }
    state.table("ports")["their-port"] = {
        "id": "their-port",
        "name": "their-port",
        "tags": ["starcast-cluster=other"],
        "network_id": "theirs",
        "fixed_ips": [{"subnet_id": "x", "ip_address": "10.9.9.9"}],
        "device_id": "",
        "device_owner": "",
        "security_groups": [],
    }
    image = next(iter(state.images))
    state.servers["their-vm"] = {
        "id": "their-vm",
        "name": "other-server",
        "status": "ACTIVE",
        "task_state": None,
        "build_polls": 0,
        "image": {"id": image},
        "flavor": {"id": "x"},
        "key_name": None,
        "user_data": None,
        "metadata": {},
        "tags": ["starcast-cluster=other"],
        "ports": [],
        "created": "",
        "tenant_id": state.project_id,
    }
    state.keypairs["someone-key"] = {"name": "someone-key", "public_key": "ssh-ed25519 AAAA"}


@pytest.mark.parametrize(
    "tag_filters", [True, False], ids=["tag-filters", "a-neutron-ignoring-tag-filters"]
)
def test_down_deletes_only_tagged_resources_in_order_and_twice_is_a_no_op(
    live_cluster: Cluster, kube_plane: KubePlane, tag_filters: bool
) -> None:
    cloud = live_cluster.cloud
    assert live_cluster.run("up").exit_code == 0
    _someone_elses(cloud, live_cluster.name)
    cloud.state.honour_tag_filters = tag_filters
    cloud.clear_requests()

    result = live_cluster.run("down")
    assert result.exit_code == 0, result.output
    assert "deleted 12 resource(s)" in result.output
    assert [shape(r) for r in cloud.mutations()] == [
        "DELETE /v2.0/floatingips/*",
        *["DELETE /v2.1/servers/*"] * 3,
        *["DELETE /v2.0/ports/*"] * 3,
        "PUT /v2.0/routers/*/remove_router_interface",
        "DELETE /v2.0/routers/*",
        "DELETE /v2.0/subnets/*",
        "DELETE /v2.0/networks/*",
        "DELETE /v2.0/security-groups/*",
        "DELETE /v2.1/os-keypairs/" + f"{live_cluster.name}-key",
    ]
    # Each VM was seen gone before the ports it used were deleted.
    shapes = [shape(r) for r in cloud.requests]
    last_server_read = max(i for i, s in enumerate(shapes) if s.startswith("GET /v2.1/servers/*"))
    first_port_delete = shapes.index("DELETE /v2.0/ports/*")
    assert last_server_read < first_port_delete
    assert +resource_counts(cloud, live_cluster.name) == {}
    assert set(cloud.state.servers) == {"their-vm"}
    assert {"theirs", "namesake", "their-port"} <= set(cloud.state.table("networks")) | set(
        cloud.state.table("ports")
    )
    assert "someone-key" in cloud.state.keypairs
    assert not (live_cluster.state_dir / "token").exists()
    assert not (live_cluster.state_dir / "agent-token").exists()
    assert not (live_cluster.state_dir / "kubeconfig").exists()

    cloud.clear_requests()
    again = live_cluster.run("down")
    assert again.exit_code == 0
    assert "nothing to delete" in again.output
    assert cloud.mutations() == []


def test_after_down_up_builds_a_fresh_cluster(live_cluster: Cluster, kube_plane: KubePlane) -> None:
    assert live_cluster.run("up").exit_code == 0
    first_token = (live_cluster.state_dir / "token").read_text()
    assert live_cluster.run("down").exit_code == 0
    assert live_cluster.run("up").exit_code == 0
    assert (live_cluster.state_dir / "token").read_text() != first_token
