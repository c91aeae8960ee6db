"""`plan` on the fake cloud: read-only, a table of what `up` would do, every node's user-data."""

from __future__ import annotations

import signal
from pathlib import Path

from typer.testing import CliRunner

from starcast.cli import app
from tests.integration.bootstrap.conftest import Cluster
from tests.support.openstack_cloud import FakeOpenStack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cluster.yaml"


def test_plan_on_an_empty_cloud_creates_everything_and_changes_nothing(cluster: Cluster) -> None:
    result = cluster.run("plan")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    rows = [line.split()[0:2] for line in lines[1 : lines.index("")]]
    assert all(action == "create" for action, _ in rows)
    kinds = [kind for _, kind in rows]
    assert kinds.count("rule") == 7 and kinds.count("server") == 3 and kinds.count("port") == 3
    assert "Plan: 20 to create." in result.output
    assert cluster.cloud.mutations() == []
    assert {r.method for r in cluster.cloud.requests if r.service != "identity"} == {"GET"}
    for node in ("server", "agent-1", "agent-2"):
        assert f"--- cloud-init user-data of {cluster.name}-{node} ---" in result.output
    assert "<cluster token: kept in the state directory, never printed>" in result.output
    assert not (cluster.state_dir / "token").exists()  # a plan generates nothing


def test_plan_refuses_to_adopt_an_untagged_namesake(cluster: Cluster) -> None:
    _foreign_network(cluster.cloud, f"{cluster.name}-net")
    result = cluster.run("plan")
    assert result.exit_code == 1
    assert f"a network named '{cluster.name}-net' exists without the tag" in result.output
    assert "Rename the cluster (`name`) or remove it" in result.output


def _foreign_network(cloud: FakeOpenStack, name: str) -> None:
    networks = cloud.state.table("networks")
    networks["foreign"] = {
        "id": "foreign",
        "name": name,
        "tags": [],
        "subnets": [],
        "router:external": False,
        "status": "ACTIVE",
    }


def test_plan_of_the_example_as_written(fake_openstack: FakeOpenStack, tmp_path: Path) -> None:
    clouds = fake_openstack.write_clouds_yaml(tmp_path, cloud="mycloud")
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds), "XDG_STATE_HOME": str(tmp_path / "state")}
    result = CliRunner().invoke(app, ["bootstrap", "plan", "-f", str(EXAMPLE)], env=env)
    assert result.exit_code == 0, result.output
    assert "Plan: 20 to create." in result.output
    assert "create  server            starcast-server" in result.output
    assert fake_openstack.mutations() == []
    assert not (tmp_path / "state").exists()


def test_plan_after_an_interrupted_up_shows_keep_change_and_create(cluster: Cluster) -> None:
    cloud = cluster.cloud
    cloud.kill_client_after(6)  # network, subnet, router, interface, group, its first rule
    process = cluster.spawn("up")
    cloud.set_client_pid(process.pid)
    process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL
    cloud.clear_requests()

    result = cluster.run("plan", "--no-user-data")
    assert result.exit_code == 0, result.output
    rows = {tuple(line.split()[:3]): line for line in result.output.splitlines() if line}
    name = cluster.name
    for kind, resource in (
        ("network", f"{name}-net"),
        ("subnet", f"{name}-subnet"),
        ("router", f"{name}-router"),
    ):
        assert ("keep", kind, resource) in rows
    assert f"{name}-nodes" in rows[("change", "security", "group")]
    assert "add 6 rules" in rows[("change", "security", "group")]
    assert ("keep", "rule", "tcp/22") in rows
    assert ("create", "server", f"{name}-server") in rows
    assert "Plan: 14 to create, 1 to change, 5 to keep." in result.output
    assert cloud.mutations() == []
