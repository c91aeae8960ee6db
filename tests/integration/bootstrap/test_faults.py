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
    ("quota", "limit", "message", "advice"),
    [
        ("instances", 2, "instances: up needs 3 more, 0 of 2 are used (2 free)", "lower `agents`"),
        # m1.medium (2 vCPUs, 4 GiB) for the server, m1.large (4 vCPUs, 8 GiB) per agent
        ("cores", 7, "cores: up needs 10 more, 0 of 7 are used (7 free)", "pick smaller flavors"),
        ("ram", 12288, "ram: up needs 20480 more, 0 of 12288 are used", "pick smaller flavors"),
        ("floatingip", 0, "floatingip: up needs 1 more, 0 of 0", "set `floating_ip: false`"),
        ("port", 2, "port: up needs 4 more, 0 of 2 are used", "lower `agents` (one port each)"),
        ("security_group", 0, "security_group: up needs 1 more", "delete unused security groups"),
    ],
)
def test_a_short_quota_is_refused_before_anything_is_made_then_a_rerun_finishes(
    live_cluster: Cluster,
    kube_plane: KubePlane,
    quota: str,
    limit: int,
    message: str,
    advice: str,
) -> None:
    cloud = live_cluster.cloud
    cloud.state.quotas[quota] = limit
    _fails_saying(
        live_cluster,
        "the project's quota can't hold this cluster, so nothing was created",
        message,
        advice,
    )
    assert cloud.mutations() == []  # refused before the first create, not after three VMs
    assert "Traceback" not in live_cluster.run("up").output
    cloud.state.quotas[quota] = DEFAULT_QUOTAS[quota]
    _finishes(live_cluster)


def test_a_quota_error_at_create_time_gives_the_advice_that_fits_it(
    live_cluster: Cluster, kube_plane: KubePlane
) -> None:
    # Another user took the last floating IP between the check and the create.
    cloud = live_cluster.cloud
    original = cloud.state.quotas["floatingip"]
    check = _QuotaAfterCheck(cloud, "floatingip")
    cloud.state.on_quota_read = check
    result = live_cluster.run("up")
    assert result.exit_code == 1, result.output
    assert "Quota exceeded for resources: ['floatingip']" in result.output
    assert "set `floating_ip: false`" in result.output
    assert "lower `agents`" not in result.output
    cloud.state.quotas["floatingip"] = original


class _QuotaAfterCheck:
    """Lowers a quota to what is used right after `up` read it: the race with another user."""

    def __init__(self, cloud: FakeOpenStack, resource: str) -> None:
        self.cloud, self.resource = cloud, resource

    def __call__(self) -> None:
        self.cloud.state.quotas[self.resource] = 0
        self.cloud.state.on_quota_read = None


def test_a_cloud_without_console_is_named_as_such(
    live_cluster: Cluster, kube_plane: KubePlane
) -> None:
    live_cluster.cloud.state.no_console = True
    result = live_cluster.run("up")
    assert result.exit_code == 1
    assert "this cloud serves no console log for the VM (HTTP 409" in result.output
    assert "Another change to that resource is under way" not in result.output
    consoles = [
        r
        for r in live_cluster.cloud.requests
        if isinstance(r.body, dict) and "os-getConsoleOutput" in r.body
    ]
    assert len(consoles) == 1  # a lasting answer, not retried


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
