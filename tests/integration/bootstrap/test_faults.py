"""Faults during `up`: each message names the resource and the fix, nothing is left untagged, and
the next run finishes the job without duplicates."""

from __future__ import annotations

import pytest

from tests.integration.bootstrap.conftest import Cluster
from tests.integration.bootstrap.expectations import (
    complete,
    names_are_unique,
    resource_counts,
    shape,
)
from tests.support.kube import KubePlane
from tests.support.openstack_cloud import FakeOpenStack

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def _all_tagged(cloud: FakeOpenStack, cluster: str) -> bool:
    """Everything made by `up` carries the tag (router interfaces belong to their router)."""
    tag = f"starcast-cluster={cluster}"
    state = cloud.state
    made = list(state.servers.values()) + [
        item
        for collection, items in state.neutron.items()
        if collection != "security-group-rules"
        for item in items.values()
        if item.get("project_id") == state.project_id
        and item.get("device_owner") != "network:router_interface"
    ]
    return all(tag in item["tags"] for item in made)


def _finishes(cluster: Cluster) -> None:
    result = cluster.run("up")
    assert result.exit_code == 0, result.output
    assert resource_counts(cluster.cloud, cluster.name) == complete(agents=2)
    assert names_are_unique(cluster.cloud)
    assert _all_tagged(cluster.cloud, cluster.name)


@pytest.mark.parametrize(
    ("quota", "limit", "message"),
    [
        ("instances", 2, "Requested 1, but already used 2 of 2 instances"),
        # m1.medium (2 vCPUs, 4 GiB) for the server, m1.large (4 vCPUs, 8 GiB) per agent
        ("cores", 7, "Quota exceeded for cores: Requested 4, but already used 6 of 7 cores"),
        ("ram", 12288, "Quota exceeded for ram: Requested 8192, but already used 12288 of 12288"),
    ],
)
def test_compute_quota_exceeded_then_raised(
    live_cluster: Cluster, kube_plane: KubePlane, quota: str, limit: int, message: str
) -> None:
    cloud = live_cluster.cloud
    cloud.state.quotas[quota] = limit
    result = live_cluster.run("up")
    assert result.exit_code == 1
    assert f"quota exceeded creating server {live_cluster.name}-agent-2: " in result.output
    assert message in result.output
    assert "lower `agents` in cluster.yaml, or ask for a larger quota" in result.output
    assert [shape(r) for r in cloud.requests].count("POST /v2.1/servers") == 3  # not retried
    assert _all_tagged(cloud, live_cluster.name)
    cloud.state.quotas[quota] = limit * 10
    _finishes(live_cluster)


@pytest.mark.parametrize(
    ("quota", "limit", "resource"),
    [
        ("floatingip", 0, "the server's floating IP"),
        ("port", 2, "port {name}-agent-1"),  # the router's interface is the first port
        ("security_group", 0, "security group {name}-nodes"),
    ],
)
def test_network_quota_exceeded_then_raised(
    live_cluster: Cluster, kube_plane: KubePlane, quota: str, limit: int, resource: str
) -> None:
    cloud = live_cluster.cloud
    cloud.state.quotas[quota] = limit
    result = live_cluster.run("up")
    assert result.exit_code == 1
    name = resource.format(name=live_cluster.name)
    assert f"quota exceeded creating {name}: Quota exceeded for resources: ['{quota}']" in (
        result.output
    )
    assert "ask for a larger quota (`openstack quota show`)" in result.output
    assert not any(shape(r) == "POST /v2.1/servers" for r in cloud.requests)
    assert _all_tagged(cloud, live_cluster.name)
    cloud.state.quotas[quota] = 50
    _finishes(live_cluster)


def test_a_vm_that_goes_error_is_named_then_replaced(
    live_cluster: Cluster, kube_plane: KubePlane
) -> None:
    cloud = live_cluster.cloud
    failing = f"{live_cluster.name}-agent-1"
    cloud.state.error_servers.add(failing)
    result = live_cluster.run("up")
    assert result.exit_code == 1
    assert f"server {failing} went ERROR: No valid host was found." in result.output
    assert "the next `up` deletes the failed VM and boots it again" in result.output
    assert "replace  server" not in result.output
    assert _all_tagged(cloud, live_cluster.name)
    cloud.state.error_servers.clear()
    assert f"replace  server            {failing}" in live_cluster.run("plan").output
    cloud.clear_requests()
    _finishes(live_cluster)
    assert [shape(r) for r in cloud.mutations()] == ["DELETE /v2.1/servers/*", "POST /v2.1/servers"]


def test_a_vm_stuck_in_build_times_out_naming_it_then_a_rerun_finishes(
    live_cluster: Cluster, kube_plane: KubePlane
) -> None:
    cloud = live_cluster.cloud
    stuck = f"{live_cluster.name}-agent-2"
    cloud.state.stuck_servers.add(stuck)
    timeouts = live_cluster.raw["timeouts"]
    live_cluster.write(timeouts={**timeouts, "server_active": 1})
    result = live_cluster.run("up")
    assert result.exit_code == 1
    assert f"server {stuck} not ready after 1s: raise timeouts.server_active" in result.output
    assert "`openstack server show`" in result.output
    assert _all_tagged(cloud, live_cluster.name)
    cloud.state.stuck_servers.clear()
    live_cluster.write(timeouts=timeouts)
    _finishes(live_cluster)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v2.0/routers", 409),
        ("POST", "/v2.0/security-group-rules", 409),
        ("POST", "/servers", 500),
        ("POST", "/v2.0/ports", 503),
        ("GET", "/v2.0/subnets", 500),
    ],
)
def test_a_conflict_or_server_error_on_one_call_is_retried_without_duplicates(
    live_cluster: Cluster, kube_plane: KubePlane, method: str, path: str, status: int
) -> None:
    cloud = live_cluster.cloud
    cloud.fail_next(method, path, status)
    _finishes(live_cluster)
    failed = [r for r in cloud.requests if r.status == status]
    assert len(failed) == 1 and failed[0].path.endswith(path)
    retried = [r for r in cloud.requests if r.method == method and r.path.endswith(path)]
    assert len(retried) >= 2  # the failed call was made again after looking again


@pytest.mark.parametrize("path", ["/v2.1/servers", "/v2.0/floatingips", "/v2.0/networks"])
def test_a_500_after_the_create_took_effect_finds_it_instead_of_doubling_it(
    live_cluster: Cluster, kube_plane: KubePlane, path: str
) -> None:
    cloud = live_cluster.cloud
    cloud.fail_next("POST", path, 500, after_applying=True)
    _finishes(live_cluster)
    assert len([r for r in cloud.requests if r.method == "POST" and r.path == path]) == (
        3 if path.endswith("servers") else 1
    )


def test_a_conflict_during_down_is_retried(live_cluster: Cluster, kube_plane: KubePlane) -> None:
    assert live_cluster.run("up").exit_code == 0
    cloud = live_cluster.cloud
    cloud.fail_next(
        "DELETE",
        "/v2.0/networks/"
        + next(
            n["id"]
            for n in cloud.state.table("networks").values()
            if n["name"].endswith("-net") and n["tags"]
        ),
        409,
    )
    result = live_cluster.run("down")
    assert result.exit_code == 0, result.output
    assert +resource_counts(cloud, live_cluster.name) == {}
