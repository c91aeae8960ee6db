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


@pytest.mark.parametrize("command", ["plan", "status", "down"])
def test_a_listing_that_fails_once_is_retried(cluster: Cluster, command: str) -> None:
    cluster.cloud.fail_next("GET", "/v2.0/security-groups", 503)
    result = cluster.run(command)
    assert result.exit_code == 0, result.output
    assert [r.status for r in cluster.cloud.requests].count(503) == 1
    assert [r.path for r in cluster.cloud.requests].count("/v2.0/security-groups") >= 2
    assert cluster.cloud.mutations() == []


def test_a_listing_that_keeps_failing_is_named(cluster: Cluster) -> None:
    cluster.cloud.fail_next("GET", "/v2.0/floatingips", 500, times=4)
    result = cluster.run("down")
    assert result.exit_code == 1
    assert "error: listing floating IPs: the cloud kept answering HTTP 500: injected fault" in (
        result.output
    )


def test_a_nova_too_old_to_tag_servers_is_refused(cluster: Cluster) -> None:
    cluster.cloud.state.nova_max_microversion = "2.42"  # Pike
    for command in ("plan", "up", "status", "down"):
        result = cluster.run(command)
        assert result.exit_code == 1, result.output
        assert "cannot tag servers (Nova microversion 2.52)" in result.output
        assert "offers microversions up to 2.42; use a cloud running OpenStack Queens" in (
            result.output
        )
    assert cluster.cloud.mutations() == []
    assert not [r for r in cluster.cloud.requests if r.path.startswith("/v2.1/servers")]


def test_a_clouds_yaml_pinning_an_old_microversion_is_refused(cluster: Cluster) -> None:
    # At 2.1 Nova would ignore the tags filter: `down` would see every VM of the project.
    clouds_path = Path(cluster.env["OS_CLIENT_CONFIG_FILE"])
    clouds = yaml.safe_load(clouds_path.read_text())
    clouds["clouds"]["fake"]["compute_default_microversion"] = "2.1"
    clouds_path.write_text(yaml.safe_dump(clouds))
    result = cluster.run("down")
    assert result.exit_code == 1
    assert "clouds.yaml pins compute_default_microversion 2.1: remove that line" in result.output
    assert cluster.cloud.mutations() == []


@pytest.mark.parametrize(
    ("status", "fix"),
    [
        (500, "The cloud is failing: run the command again later; it picks up where it stopped"),
        (409, "Another change to that resource is under way: run the command again"),
    ],
)
def test_a_create_that_keeps_failing_names_the_resource_and_the_fix(
    cluster: Cluster, status: int, fix: str
) -> None:
    cluster.cloud.fail_next("POST", "/v2.0/networks", status, times=4)
    result = cluster.run("up")
    assert result.exit_code == 1
    assert (
        f"error: creating network {cluster.name}-net: the cloud kept answering HTTP {status}"
        in (result.output)
    )
    assert fix in result.output
    posts = [r for r in cluster.cloud.requests if r.method == "POST" and r.service == "network"]
    assert len(posts) == 4  # the first try and three retries, each after looking again
    assert cluster.cloud.mutations() == posts  # nothing else was made
