"""`kubeconfig: ~/.kube/config`: the cluster's context merged beside the user's, `down` removes
only that, and `up`'s last line gives the API server the kubeconfig holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.bootstrap.conftest import Cluster
from tests.support.kube import KubePlane
from tests.unit.bootstrap.test_kubeconfig_file import OTHER

pytestmark = [pytest.mark.integration, pytest.mark.kube]

THEIRS = OTHER  # a user's kubeconfig with a context of their own


def test_up_merges_its_context_and_down_removes_only_it(
    live_cluster: Cluster, kube_plane: KubePlane, tmp_path: Path
) -> None:
    user_config = tmp_path / "home" / ".kube" / "config"
    user_config.parent.mkdir(parents=True)
    user_config.write_text(yaml.safe_dump(THEIRS))
    live_cluster.write(kubeconfig=str(user_config))

    result = live_cluster.run("up")
    assert result.exit_code == 0, result.output
    name = live_cluster.name
    merged = yaml.safe_load(user_config.read_text())
    assert [c["name"] for c in merged["contexts"]] == ["work", name]
    assert merged["current-context"] == "work"  # the user's choice is kept
    assert merged["users"][0] == THEIRS["users"][0]
    server = next(c for c in merged["clusters"] if c["name"] == name)["cluster"]["server"]
    # The port the kubeconfig holds (the plane's), not a fixed 6443.
    assert not server.endswith(":6443")
    assert f"API at {server}\n" in result.output
    assert f"kubectl --context {name} get nodes" in result.output
    nodes = kube_plane.kubectl(
        "--kubeconfig", str(user_config), "--context", name, "get", "nodes", "-o", "name"
    ).stdout
    assert f"node/{name}-server" in nodes
    assert "ACTIVE, node Ready" in live_cluster.run("status").output

    assert live_cluster.run("up").exit_code == 0  # a re-run replaces its own entries
    assert [c["name"] for c in yaml.safe_load(user_config.read_text())["contexts"]] == [
        "work",
        name,
    ]

    down = live_cluster.run("down")
    assert down.exit_code == 0, down.output
    assert yaml.safe_load(user_config.read_text()) == THEIRS  # exactly what the user had


def test_up_refuses_an_entry_of_its_name_it_did_not_write(
    live_cluster: Cluster, kube_plane: KubePlane, tmp_path: Path
) -> None:
    user_config = tmp_path / "config"
    theirs = {**THEIRS, "clusters": [{"name": live_cluster.name, "cluster": {"server": "x"}}]}
    user_config.write_text(yaml.safe_dump(theirs))
    live_cluster.write(kubeconfig=str(user_config))
    result = live_cluster.run("up")
    assert result.exit_code == 1
    assert f"already has a cluster named '{live_cluster.name}' that this tool did not" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert yaml.safe_load(user_config.read_text()) == theirs
