"""`up` on the fake cloud with a real sshd as the server VM and the real kube plane as its k3s."""

from __future__ import annotations

import stat
from collections import Counter

import pytest
import yaml

from tests.integration.bootstrap.conftest import Cluster
from tests.integration.bootstrap.expectations import (
    complete,
    names_are_unique,
    resource_counts,
    shape,
    up_mutations,
)
from tests.support.kube import KubePlane
from tests.support.openstack_cloud import PASSWORD
from tests.support.ssh_server import SshServer, cloud_init_console

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def test_up_creates_what_plan_said_in_order_then_a_second_up_creates_nothing(
    live_cluster: Cluster, kube_plane: KubePlane
) -> None:
    cloud = live_cluster.cloud
    planned = live_cluster.run("plan")
    assert "Plan: 20 to create." in planned.output
    cloud.clear_requests()

    first = live_cluster.run("up")
    assert first.exit_code == 0, first.output
    first_requests, first_mutations = len(cloud.requests), cloud.mutations()
    first_by_service = Counter(f"{r.service} {r.method}" for r in cloud.requests)
    assert [shape(r) for r in first_mutations] == up_mutations(agents=2)
    assert resource_counts(cloud, live_cluster.name) == complete(agents=2)
    for node in ("server", "agent-1", "agent-2"):
        assert f"ready  node {live_cluster.name}-{node}" in first.output
    assert "cluster up: 3 node(s) Ready" in first.output

    cloud.clear_requests()
    second = live_cluster.run("up")
    assert second.exit_code == 0, second.output
    assert cloud.mutations() == []
    assert "created" not in second.output
    assert names_are_unique(cloud)
    print(
        f"\nrequest counts: first up {first_requests} requests ({len(first_mutations)} changes), "
        f"second up {len(cloud.requests)} requests ({len(cloud.mutations())} changes)\n"
        f"  first by service: {dict(sorted(first_by_service.items()))}\n"
        f"  second by service: "
        f"{dict(sorted(Counter(f'{r.service} {r.method}' for r in cloud.requests).items()))}"
    )
    assert "Plan: 20 to keep." in live_cluster.run("plan").output


def test_the_kubeconfig_is_fetched_over_ssh_rewritten_and_owner_only(
    live_cluster: Cluster, kube_plane: KubePlane, ssh_server: SshServer
) -> None:
    result = live_cluster.run("up")
    assert result.exit_code == 0, result.output
    path = live_cluster.state_dir / "kubeconfig"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = yaml.safe_load(path.read_text())
    assert document["current-context"] == live_cluster.name
    server = document["clusters"][0]["cluster"]["server"]
    plane_port = yaml.safe_load(kube_plane.kubeconfig.read_text())["clusters"][0]["cluster"][
        "server"
    ].rsplit(":", 1)[1]
    fip = next(iter(live_cluster.cloud.state.table("floatingips").values()))
    assert server == f"https://{fip['floating_ip_address']}:{plane_port}"
    nodes = kube_plane.kubectl("--kubeconfig", str(path), "get", "nodes", "-o", "name").stdout
    assert f"node/{live_cluster.name}-server" in nodes
    # One login, with the generated key, asking for k3s's file (as root: no sudo).
    assert ssh_server.commands == ["cat /etc/rancher/k3s/k3s.yaml"]
    assert "Accepted publickey for" in ssh_server.log()


def test_a_vm_presenting_another_host_key_is_refused(
    live_cluster: Cluster, kube_plane: KubePlane
) -> None:
    live_cluster.cloud.state.console_output = cloud_init_console("ssh-ed25519 " + "A" * 68)
    live_cluster.write(timeouts={**live_cluster.raw["timeouts"], "kubeconfig": 3})
    result = live_cluster.run("up")
    assert result.exit_code == 1
    assert "is not one the VM's console printed" in result.output
    assert not (live_cluster.state_dir / "kubeconfig").exists()


def test_no_secret_appears_in_output_or_logs(
    live_cluster: Cluster, kube_plane: KubePlane, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    outputs = [live_cluster.run(command).output for command in ("plan", "up", "status", "up")]
    token = (live_cluster.state_dir / "token").read_text().strip()
    issued = live_cluster.cloud.state.tokens
    assert token and issued
    everything = "\n".join([*outputs, caplog.text])
    for secret in (token, PASSWORD, *issued):
        assert secret not in everything
    # ...while the token did reach the VMs, in their user-data only.
    user_data = [s["user_data"] for s in live_cluster.cloud.state.servers.values()]
    import base64

    assert all(token in base64.b64decode(data).decode() for data in user_data)


def test_status_shows_resources_and_ready_nodes(
    live_cluster: Cluster, kube_plane: KubePlane
) -> None:
    assert "no resource of this cluster exists" in live_cluster.run("status").output
    assert live_cluster.run("up").exit_code == 0
    status = live_cluster.run("status").output
    for node in ("server", "agent-1", "agent-2"):
        assert f"{live_cluster.name}-{node}" in status
    assert status.count("ACTIVE, node Ready") == 3
    assert "floating IP" in status and "attached" in status


def test_lowering_agents_removes_the_surplus_agent(
    live_cluster: Cluster, kube_plane: KubePlane
) -> None:
    assert live_cluster.run("up").exit_code == 0
    live_cluster.write(agents=1)
    plan = live_cluster.run("plan").output
    assert f"delete  server            {live_cluster.name}-agent-2" in plan
    result = live_cluster.run("up")
    assert result.exit_code == 0, result.output
    assert resource_counts(live_cluster.cloud, live_cluster.name) == complete(agents=1)
