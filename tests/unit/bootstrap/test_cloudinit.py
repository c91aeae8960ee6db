"""Every node's user-data passes cloud-init's own schema checker and says what k3s needs."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from starcast.bootstrap.cloudinit import REDACTED, Addresses, render_user_data
from starcast.bootstrap.config import ClusterConfig, load_config
from starcast.bootstrap.desired import nodes, security_rules

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cluster.yaml"
ADDRESSES = Addresses(node_ip="192.168.42.11", server_ip="192.168.42.10", public_ip="198.51.100.7")


def _cloud_init_schema(path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("cloud-init")
    if binary is None:
        pytest.fail("cloud-init not installed: run `make system-deps`", pytrace=False)
    return subprocess.run(
        [binary, "schema", "--config-file", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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
        path = tmp_path / f"{node.name}.yaml"
        path.write_text(render_user_data(config, node, "s3cr3t-token", ADDRESSES))
        result = _cloud_init_schema(path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Valid cloud-config" in result.stdout


def test_cloud_init_schema_rejects_a_broken_document(tmp_path: Path) -> None:
    # The checker itself must be able to fail, or the test above proves nothing.
    path = tmp_path / "bad.yaml"
    path.write_text("#cloud-config\nruncmd: 42\nwrite_files: {path: 3}\n")
    assert _cloud_init_schema(path).returncode != 0


def test_server_and_agent_k3s_settings(config: ClusterConfig) -> None:
    server, agent, _ = nodes(config)
    on_server = _k3s_config(render_user_data(config, server, "tok", ADDRESSES))
    assert on_server["token"] == "tok"
    assert on_server["tls-san"] == ["198.51.100.7", "192.168.42.11", "k3s.example.org"]
    assert on_server["node-taint"] == ["node-role.kubernetes.io/control-plane:NoSchedule"]
    assert on_server["node-name"] == "starcast-server"
    on_agent = _k3s_config(render_user_data(config, agent, "tok", ADDRESSES))
    assert on_agent["server"] == "https://192.168.42.10:6443"
    assert on_agent["token"] == "tok"
    assert "tls-san" not in on_agent
    document = yaml.safe_load(render_user_data(config, agent, "tok", ADDRESSES))
    install = document["runcmd"][0][2]
    assert "INSTALL_K3S_VERSION=v1.31.4+k3s1" in install and install.endswith("sh -s - agent")


def test_a_hostile_tls_san_cannot_break_the_document(config: ClusterConfig) -> None:
    hostile = config.model_copy(update={"tls_san": ["a\n  - evil: true", "x: |\n#"]})
    server = nodes(hostile)[0]
    on_server = _k3s_config(render_user_data(hostile, server, "tok", ADDRESSES))
    assert on_server["tls-san"][-2:] == ["a\n  - evil: true", "x: |\n#"]  # type: ignore[index]


def test_a_plan_shows_the_token_redacted(config: ClusterConfig) -> None:
    server = nodes(config)[0]
    assert (
        _k3s_config(render_user_data(config, server, None, Addresses(None, None, None)))["token"]
        == REDACTED
    )


def test_no_channel_between_nodes_is_open_to_the_world(config: ClusterConfig) -> None:
    by_port = {(r.protocol, r.port_min): r for r in security_rules(config)}
    assert by_port[("udp", 8472)].remote_cidr is None  # flannel VXLAN: group members only
    assert by_port[("tcp", 10250)].remote_cidr is None  # kubelet: group members only
    assert by_port[("tcp", 22)].remote_cidr == config.admin_cidr
    assert {r.port_min for r in security_rules(config)} == {22, 6443, 8472, 10250, 80, 443}
