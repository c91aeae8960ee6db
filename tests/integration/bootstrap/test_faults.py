"""Faults during `up`: each message names the resource and the fix, nothing is left untagged, and
the next run finishes the job without duplicates."""

from __future__ import annotations

import pytest

from tests.integration.bootstrap.conftest import Cluster
from tests.integration.bootstrap.expectations import (
    complete,
    names_are_unique,
    plan_rows,
    resource_counts,
    shape,
)
from tests.support.kube import KubePlane
from tests.support.openstack_cloud import FakeOpenStack
from tests.support.openstack_state import DEFAULT_QUOTAS

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


def _fails_saying(cluster: Cluster, *messages: str) -> str:
    """`up` stops with each of `messages`, leaving nothing it made untagged."""
    result = cluster.run("up")
    assert result.exit_code == 1, result.output
    for message in messages:
        assert message in result.output
    assert _all_tagged(cluster.cloud, cluster.name)
    return str(result.output)


def _finishes(cluster: Cluster) -> None:
    result = cluster.run("up")
    assert result.exit_code == 0, result.output
    assert resource_counts(cluster.cloud, cluster.name) == complete(agents=2)
    assert names_are_unique(cluster.cloud)
    assert _all_tagged(cluster.cloud, cluster.name)


@pytest.mark.parametrize(
    ("quota", "limit", "resource", "message"),
    [
        ("instances", 2, "server {}-agent-2", "instances: Requested 1, but already used 2 of 2"),
        # m1.medium (2 vCPUs, 4 GiB) for the server, m1.large (4 vCPUs, 8 GiB) per agent
        ("cores", 7, "server {}-agent-2", "cores: Requested 4, but already used 6 of 7 cores"),
        ("ram", 12288, "server {}-agent-2", "ram: Requested 8192, but already used 12288 of 12288"),
        ("floatingip", 0, "the server's floating IP", "resources: ['floatingip']"),
        ("port", 2, "port {}-agent-1", "resources: ['port']"),  # the router's is the first
        ("security_group", 0, "security group {}-nodes", "resources: ['security_group']"),
    ],
)
def test_a_quota_exceeded_is_named_then_a_rerun_finishes(
    live_cluster: Cluster,
    kube_plane: KubePlane,
    quota: str,
    limit: int,
    resource: str,
    message: str,
) -> None:
    cloud = live_cluster.cloud
    cloud.state.quotas[quota] = limit
    what = resource.format(live_cluster.name)
    _fails_saying(
        live_cluster,
        f"quota exceeded creating {what}: Quota exceeded for {message}",
        "lower `agents` in cluster.yaml, or ask for a larger quota (`openstack quota show`)",
    )
    boots = [shape(r) for r in cloud.requests].count("POST /v2.1/servers")
    assert boots == (3 if what.startswith("server") else 0)  # a quota error is not retried
    cloud.state.quotas[quota] = DEFAULT_QUOTAS[quota]
    _finishes(live_cluster)


@pytest.mark.parametrize(
    ("fault", "node", "messages", "plan_action", "rerun_changes"),
    [
        (
            "error_servers",
            "agent-1",
            (
                "server {} went ERROR: No valid host was found.",
                "the next `up` deletes the failed VM and boots it again",
            ),
            "replace",
            ["DELETE /v2.1/servers/*", "POST /v2.1/servers"],
        ),
        (
            "stuck_servers",
            "agent-2",
            ("server {} not ready after 1s: raise timeouts.server_active, or look at `openstack",),
            "keep",
            [],
        ),
    ],
    ids=["goes-error", "stays-in-build"],
)
def test_a_vm_that_fails_or_hangs_is_named_then_a_rerun_finishes(
    live_cluster: Cluster,
    kube_plane: KubePlane,
    fault: str,
    node: str,
    messages: tuple[str, ...],
    plan_action: str,
    rerun_changes: list[str],
) -> None:
    cloud = live_cluster.cloud
    name = f"{live_cluster.name}-{node}"
    failing: set[str] = getattr(cloud.state, fault)
    failing.add(name)
    timeouts = live_cluster.raw["timeouts"]
    live_cluster.write(timeouts={**timeouts, "server_active": 1})
    output = _fails_saying(live_cluster, *(message.format(name) for message in messages))
    assert "replace  server" not in output
    failing.clear()
    live_cluster.write(timeouts=timeouts)
    assert (plan_action, "server", name) in plan_rows(live_cluster.run("plan").output)
    cloud.clear_requests()
    _finishes(live_cluster)
    assert [shape(r) for r in cloud.mutations()] == rerun_changes


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
