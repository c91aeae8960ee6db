"""`up` on the fake cloud with a real sshd as the server VM and the real kube plane as its k3s."""

from __future__ import annotations

import base64
import stat
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.integration.bootstrap.conftest import Cluster
from tests.integration.bootstrap.expectations import (
    CREATED_BY,
    complete,
    ingress_rules,
    k3s_rules,
    names_are_unique,
    plan_rows,
    resource_counts,
    shape,
    up_mutations,
)
from tests.support.cloud_init import assert_valid_cloud_config
from tests.support.kube import KubePlane
from tests.support.openstack_cloud import PASSWORD, FakeOpenStack
from tests.support.ssh_server import SshServer, cloud_init_console

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def test_up_creates_what_plan_said_in_order_then_a_second_up_creates_nothing(
    live_cluster: Cluster, kube_plane: KubePlane, tmp_path: Path
) -> None:
    cloud = live_cluster.cloud
    planned = live_cluster.run("plan")
    assert "Plan: 20 to create." in planned.output
    cloud.clear_requests()

    first = live_cluster.run("up")
    assert first.exit_code == 0, first.output
    first_requests, first_mutations = len(cloud.requests), cloud.mutations()
    first_by_service = Counter(f"{r.service} {r.method}" for r in cloud.requests)
    # Every row plan said it would create, in plan's order, is one request of up, and no more.
    creates = [
        CREATED_BY[kind] for action, kind, _ in plan_rows(planned.output) if action == "create"
    ]
    assert [shape(r) for r in first_mutations] == creates == up_mutations(agents=2)
    assert resource_counts(cloud, live_cluster.name) == complete(agents=2)
    # SSH is opened on the VM's sshd port (ssh_port), not on 22.
    ssh_port = live_cluster.raw["ssh_port"]
    assert ssh_port != 22
    assert ingress_rules(cloud, live_cluster.name) == k3s_rules("127.0.0.0/8", ssh_port)
    for node in ("server", "agent-1", "agent-2"):
        assert f"ready  node {live_cluster.name}-{node}" in first.output
    assert "cluster up: 3 node(s) Ready" in first.output
    _user_data_is_valid_and_addressed(cloud, live_cluster.name, tmp_path)

    cloud.clear_requests()
    second = live_cluster.run("up")
    assert second.exit_code == 0, second.output
    assert cloud.mutations() == []
    assert "created" not in second.output
    assert names_are_unique(cloud)
    second_by_service = Counter(f"{r.service} {r.method}" for r in cloud.requests)
    print(
        f"\nrequest counts: first up {first_requests} requests ({len(first_mutations)} changes), "
        f"second up {len(cloud.requests)} requests ({len(cloud.mutations())} changes)\n"
        f"  first by service: {dict(sorted(first_by_service.items()))}\n"
        f"  second by service: {dict(sorted(second_by_service.items()))}"
    )

    # plan on the complete cloud: read-only, all kept, the user-data with the real addresses.
    cloud.clear_requests()
    complete_plan = live_cluster.run("plan")
    assert complete_plan.exit_code == 0, complete_plan.output
    assert "Plan: 20 to keep." in complete_plan.output
    assert cloud.mutations() == []
    assert {r.method for r in cloud.requests if r.service != "identity"} == {"GET"}
    ports = {p["name"]: p for p in cloud.state.table("ports").values() if p["name"]}
    server_ip = ports[f"{live_cluster.name}-server"]["fixed_ips"][0]["ip_address"]
    agent_ip = ports[f"{live_cluster.name}-agent-1"]["fixed_ips"][0]["ip_address"]
    fip = next(iter(cloud.state.table("floatingips").values()))["floating_ip_address"]
    assert f"server: https://{server_ip}:6443" in complete_plan.output
    assert f"node-ip: {agent_ip}" in complete_plan.output
    assert f"- {fip}" in complete_plan.output  # among the server's tls-san


def _user_data_is_valid_and_addressed(cloud: FakeOpenStack, cluster: str, tmp_path: Path) -> None:
    """What each VM was booted with passes `cloud-init schema` and names its own addresses."""
    ports = {p["id"]: p for p in cloud.state.table("ports").values()}
    fip = next(iter(cloud.state.table("floatingips").values()))["floating_ip_address"]
    booted = {s["name"]: s for s in cloud.state.servers.values()}
    server_ip = ports[booted[f"{cluster}-server"]["ports"][0]]["fixed_ips"][0]["ip_address"]
    for name, server in booted.items():
        user_data = base64.b64decode(server["user_data"]).decode()
        assert_valid_cloud_config(user_data, tmp_path / f"{name}.yaml")
        (k3s_file,) = [
            f
            for f in yaml.safe_load(user_data)["write_files"]
            if f["path"] == "/etc/rancher/k3s/config.yaml"
        ]
        k3s = yaml.safe_load(k3s_file["content"])
        assert k3s["node-ip"] == ports[server["ports"][0]]["fixed_ips"][0]["ip_address"]
        assert k3s["node-name"] == name
        if name.endswith("-server"):
            assert fip in k3s["tls-san"] and server_ip in k3s["tls-san"]
        else:
            assert k3s["server"] == f"https://{server_ip}:6443"


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
    agent_token = (live_cluster.state_dir / "agent-token").read_text().strip()
    # ...while the tokens did reach the VMs, in their user-data only: the server token to the
    # server alone, the agent token (which cannot join a server) to the agents.
    for server in live_cluster.cloud.state.servers.values():
        user_data = base64.b64decode(server["user_data"]).decode()
        is_server = server["name"].endswith("-server")
        assert (token in user_data) is is_server
        assert agent_token in user_data
    outputs.append(live_cluster.run("down").output)
    issued = live_cluster.cloud.state.tokens
    assert token and agent_token and issued
    everything = "\n".join([*outputs, caplog.text])
    for secret in (token, agent_token, PASSWORD, *issued):
        assert secret not in everything


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
