"""Every node's user-data passes cloud-init's own schema checker and says what k3s needs."""

from pathlib import Path

import pytest
import yaml

from starcast.bootstrap.cloudinit import REDACTED, REDACTED_AGENT, Addresses, render_user_data
from starcast.bootstrap.config import ClusterConfig, load_config
from starcast.bootstrap.desired import Rule, nodes, security_rules
from starcast.bootstrap.secrets import Tokens
from tests.support.cloud_init import assert_valid_cloud_config, cloud_init_schema

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cluster.yaml"
ADDRESSES = Addresses(node_ip="192.168.42.11", server_ip="192.168.42.10", public_ip="198.51.100.7")
TOKENS = Tokens(server="server-secret", agent="agent-secret")


def _k3s_config(user_data: str) -> dict[str, object]:
    document = yaml.safe_load(user_data)
    (k3s_file,) = [
        f for f in document["write_files"] if f["path"] == "/etc/rancher/k3s/config.yaml"
    ]
    assert k3s_file["permissions"] == "0600"
    parsed: dict[str, object] = yaml.safe_load(k3s_file["content"])
    return parsed


@pytest.fixture
def config() -> ClusterConfig:
    return load_config(EXAMPLE)


def test_user_data_of_every_node_is_valid_cloud_config(
    config: ClusterConfig, tmp_path: Path
) -> None:
    for node in nodes(config):
        user_data = render_user_data(config, node, TOKENS, ADDRESSES)
        assert_valid_cloud_config(user_data, tmp_path / f"{node.name}.yaml")


def test_user_data_as_a_plan_shows_it_is_valid_cloud_config(
    config: ClusterConfig, tmp_path: Path
) -> None:
    # No addresses yet, the token redacted: what `plan` prints must still be a valid document.
    channel = config.model_copy(
        update={"k3s": config.k3s.model_copy(update={"version": None, "channel": "stable"})}
    )
    for node in nodes(channel):
        user_data = render_user_data(channel, node, None, Addresses(None, None, None))
        assert "INSTALL_K3S_CHANNEL=stable" in user_data
        assert_valid_cloud_config(user_data, tmp_path / f"{node.name}.yaml")


def test_cloud_init_schema_rejects_a_broken_document(tmp_path: Path) -> None:
    # The checker itself must be able to fail, or the test above proves nothing.
    path = tmp_path / "bad.yaml"
    path.write_text("#cloud-config\nruncmd: 42\nwrite_files: {path: 3}\n")
    assert cloud_init_schema(path).returncode != 0


def test_server_and_agent_k3s_settings(config: ClusterConfig) -> None:
    server, agent, _ = nodes(config)
    on_server = _k3s_config(render_user_data(config, server, TOKENS, ADDRESSES))
    assert on_server["token"] == "server-secret"
    assert on_server["agent-token"] == "agent-secret"
    assert on_server["tls-san"] == ["198.51.100.7", "192.168.42.11", "k3s.example.org"]
    assert on_server["node-taint"] == ["node-role.kubernetes.io/control-plane:NoSchedule"]
    assert on_server["node-name"] == "starcast-server"
    agent_user_data = render_user_data(config, agent, TOKENS, ADDRESSES)
    on_agent = _k3s_config(agent_user_data)
    assert on_agent["server"] == "https://192.168.42.10:6443"
    assert on_agent["token"] == "agent-secret"
    assert "server-secret" not in agent_user_data  # an agent can't join as a server
    assert "tls-san" not in on_agent
    document = yaml.safe_load(agent_user_data)
    install = document["runcmd"][0][2]
    assert "INSTALL_K3S_VERSION=v1.31.4+k3s1" in install and install.endswith("sh -s - agent")


def test_a_hostile_tls_san_cannot_break_the_document(config: ClusterConfig) -> None:
    hostile = config.model_copy(update={"tls_san": ["a\n  - evil: true", "x: |\n#"]})
    server = nodes(hostile)[0]
    on_server = _k3s_config(render_user_data(hostile, server, TOKENS, ADDRESSES))
    assert on_server["tls-san"][-2:] == ["a\n  - evil: true", "x: |\n#"]  # type: ignore[index]


def test_a_plan_shows_the_tokens_redacted(config: ClusterConfig) -> None:
    server, agent, _ = nodes(config)
    nowhere = Addresses(None, None, None)
    on_server = _k3s_config(render_user_data(config, server, None, nowhere))
    assert (on_server["token"], on_server["agent-token"]) == (REDACTED, REDACTED_AGENT)
    assert _k3s_config(render_user_data(config, agent, None, nowhere))["token"] == REDACTED_AGENT


def test_the_rules_are_exactly_what_k3s_needs(config: ClusterConfig) -> None:
    """k3s's networking requirements, flannel VXLAN, one server (no etcd 2379-2380, no
    WireGuard 51820-51821): None as the remote is "members of the group" only."""
    rules = {(r.protocol, r.port_min, r.port_max, r.remote_cidr) for r in security_rules(config)}
    assert rules == {
        ("tcp", 22, 22, "203.0.113.0/24"),  # SSH from admin_cidrs
        ("tcp", 6443, 6443, "203.0.113.0/24"),  # the API server from admin_cidrs
        ("tcp", 6443, 6443, None),  # agents -> server
        ("udp", 8472, 8472, None),  # flannel VXLAN, never from outside
        ("tcp", 10250, 10250, None),  # kubelet, metrics-server
        ("tcp", 80, 80, "0.0.0.0/0"),  # ingress
        ("tcp", 443, 443, "0.0.0.0/0"),
    }
    assert all(isinstance(r, Rule) and r.why for r in security_rules(config))


def test_every_admin_cidr_gets_ssh_on_ssh_port_and_the_api(
    config: ClusterConfig, tmp_path: Path
) -> None:
    moved = config.model_copy(
        update={"ssh_port": 2222, "admin_cidrs": ["192.0.2.0/24", "10.9.0.0/16"]}
    )
    admin = {
        (r.protocol, r.port_min, r.port_max, r.remote_cidr)
        for r in security_rules(moved)
        if r.remote_cidr not in (None, "0.0.0.0/0")
    }
    assert admin == {
        ("tcp", 2222, 2222, "192.0.2.0/24"),
        ("tcp", 6443, 6443, "192.0.2.0/24"),
        ("tcp", 2222, 2222, "10.9.0.0/16"),
        ("tcp", 6443, 6443, "10.9.0.0/16"),
    }
    assert not any(r.port_min == 22 for r in security_rules(moved))
    # ...and the VM's sshd is told to listen there, before it first starts.
    user_data = render_user_data(moved, nodes(moved)[0], TOKENS, ADDRESSES)
    (drop_in,) = [
        f for f in yaml.safe_load(user_data)["write_files"] if f["path"].startswith("/etc/ssh/")
    ]
    assert drop_in["content"] == "Port 2222\n"
    assert_valid_cloud_config(user_data, tmp_path / "moved.yaml")
    plain = render_user_data(config, nodes(config)[0], TOKENS, ADDRESSES)
    assert "/etc/ssh/" not in plain
