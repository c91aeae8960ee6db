"""Faults before anything is made: each message names the resource and the fix; nothing is made."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from tests.integration.bootstrap.conftest import Cluster


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"image": "ubuntu-99.04"},
            "image 'ubuntu-99.04' not found in cloud 'fake': set `image` in cluster.yaml to one "
            "of: debian-12-genericcloud-amd64",
        ),
        (
            {"server_flavor": "m9.huge"},
            "flavor 'm9.huge' not found in cloud 'fake': set `server_flavor` in cluster.yaml to "
            "one of: m1.large, m1.medium",
        ),
        ({"agent_flavor": "m9.huge"}, "set `agent_flavor` in cluster.yaml"),
        (
            {"external_network": "internet"},
            "external_network 'internet' not found: set it to one of: public",
        ),
    ],
)
def test_a_missing_prerequisite_stops_up_before_any_change(
    cluster: Cluster, change: dict[str, str], message: str
) -> None:
    cluster.write(**change)
    for command in ("plan", "up"):
        result = cluster.run(command)
        assert result.exit_code == 1, result.output
        assert message in result.output
    assert cluster.cloud.mutations() == []


def test_an_unreachable_cloud_says_where_to_look(cluster: Cluster) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    clouds_path = Path(cluster.env["OS_CLIENT_CONFIG_FILE"])
    clouds = yaml.safe_load(clouds_path.read_text())
    clouds["clouds"]["fake"]["auth"]["auth_url"] = f"http://127.0.0.1:{port}/identity"
    clouds_path.write_text(yaml.safe_dump(clouds))
    result = cluster.run("up")
    assert result.exit_code == 1
    assert "cannot reach cloud 'fake'" in result.output
    assert "check auth_url in clouds.yaml and your network or VPN" in result.output


def test_a_cloud_missing_from_clouds_yaml(cluster: Cluster) -> None:
    cluster.write(cloud="nowhere")
    result = cluster.run("plan")
    assert result.exit_code == 1
    assert "cloud 'nowhere' not found in clouds.yaml" in result.output


def test_wrong_credentials(cluster: Cluster) -> None:
    cluster.cloud.state.credentials = ("demo", "another-password", "starcast")
    result = cluster.run("plan")
    assert result.exit_code == 1
    assert "refused the credentials in clouds.yaml (HTTP 401)" in result.output


def test_an_invalid_cluster_yaml_exits_2_naming_the_field(cluster: Cluster) -> None:
    cluster.write(cidr="10.42.0.0/24")
    result = cluster.run("up")
    assert result.exit_code == 2
    assert "cidr: 10.42.0.0/24 overlaps k3s's own 10.42.0.0/16" in result.output
    assert cluster.cloud.requests == []
