"""The nodes' group opens exactly what k3s needs: changed admin_cidrs or a rule added by hand
is shown by `plan` and undone by `up`."""

from __future__ import annotations

import pytest

from tests.integration.bootstrap.conftest import Cluster
from tests.integration.bootstrap.expectations import (
    ingress_rules,
    k3s_rules,
    plan_rows,
    shape,
)
from tests.support.kube import KubePlane
from tests.support.openstack_state import new_id

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def test_a_new_admin_cidr_and_a_hand_made_rule_are_put_right(
    live_cluster: Cluster, kube_plane: KubePlane
) -> None:
    cloud = live_cluster.cloud
    assert live_cluster.run("up").exit_code == 0
    group = next(
        g for g in cloud.state.table("security-groups").values() if g["name"].endswith("-nodes")
    )
    by_hand = new_id()
    cloud.state.table("security-group-rules")[by_hand] = {
        "id": by_hand,
        "security_group_id": group["id"],
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "0.0.0.0/0",
        "remote_group_id": None,
        "tags": [],
    }
    live_cluster.write(admin_cidrs=["127.0.0.0/16"])
    cloud.clear_requests()
    ssh = f"tcp/{live_cluster.raw['ssh_port']}"

    plan = live_cluster.run("plan", "--no-user-data")
    assert plan.exit_code == 0, plan.output
    rules = [(action, name) for action, kind, name in plan_rows(plan.output) if kind == "rule"]
    assert sorted(r for r in rules if r[0] != "keep") == [
        ("create", ssh),
        ("create", "tcp/6443"),
        ("delete", "tcp/22"),  # 0.0.0.0/0, by hand
        ("delete", ssh),  # 127.0.0.0/8
        ("delete", "tcp/6443"),  # 127.0.0.0/8
    ]
    assert "from 0.0.0.0/0 (IPv4): not a port k3s needs here" in plan.output
    assert "add 2 rules, remove 3 rules" in plan.output
    assert cloud.mutations() == []

    result = live_cluster.run("up")
    assert result.exit_code == 0, result.output
    shapes = [shape(r) for r in cloud.mutations()]
    assert (
        shapes
        == ["POST /v2.0/security-group-rules"] * 2 + ["DELETE /v2.0/security-group-rules/*"] * 3
    )
    wanted = k3s_rules("127.0.0.0/16", live_cluster.raw["ssh_port"])
    assert ingress_rules(cloud, live_cluster.name) == wanted
    cloud.clear_requests()
    assert "Plan: 20 to keep." in live_cluster.run("plan", "--no-user-data").output
