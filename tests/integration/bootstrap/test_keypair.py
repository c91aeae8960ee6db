"""An existing keypair: used as it is, never uploaded, never deleted; a missing one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from starcast.bootstrap.secrets import ClusterSecrets
from tests.integration.bootstrap.conftest import Cluster
from tests.integration.bootstrap.expectations import shape
from tests.support.kube import KubePlane


def _own_key(cluster: Cluster, tmp_path: Path) -> Path:
    """A key the user made and uploaded themselves, outside starcast's state directory."""
    mine = ClusterSecrets(tmp_path / "my-keys")
    public = mine.ensure_key()
    cluster.cloud.state.keypairs["my-key"] = {"name": "my-key", "public_key": public}
    cluster.write(keypair="my-key", ssh_key_file=str(mine.key_path))
    return mine.key_path


def test_a_missing_keypair_is_named_with_the_fix(cluster: Cluster, tmp_path: Path) -> None:
    key = ClusterSecrets(tmp_path / "nobodys")
    key.ensure_key()  # a real private key, of a keypair the cloud does not have
    cluster.write(keypair="nobodys-key", ssh_key_file=str(key.key_path))
    result = cluster.run("up")
    assert result.exit_code == 1
    assert "keypair 'nobodys-key' not found in cloud 'fake'" in result.output
    assert "omit `keypair` to have one generated" in result.output
    assert not any(r.path.endswith("/servers") for r in cluster.cloud.mutations())


@pytest.mark.integration
@pytest.mark.kube
def test_an_existing_keypair_is_used_and_left_in_place(
    live_cluster: Cluster, kube_plane: KubePlane, tmp_path: Path
) -> None:
    key_file = _own_key(live_cluster, tmp_path)
    result = live_cluster.run("up")
    assert result.exit_code == 0, result.output
    shapes = [shape(r) for r in live_cluster.cloud.mutations()]
    assert "POST /v2.1/os-keypairs" not in shapes
    assert not (live_cluster.state_dir / "id_ed25519").exists()
    assert all(s["key_name"] == "my-key" for s in live_cluster.cloud.state.servers.values())

    assert live_cluster.run("down").exit_code == 0
    assert "my-key" in live_cluster.cloud.state.keypairs
    assert key_file.exists()


def test_a_keypair_named_like_ours_with_another_key_is_refused_and_left(cluster: Cluster) -> None:
    # Nova keypairs carry no tag: the generated key's public half is what makes one ours.
    theirs = ClusterSecrets(cluster.state_dir.parent / "their-keys").ensure_key()
    name = f"{cluster.name}-key"
    cluster.cloud.state.keypairs[name] = {"name": name, "public_key": theirs}
    result = cluster.run("up")
    assert result.exit_code == 1
    assert f"keypair '{name}' exists with another public key than" in result.output
    assert "Delete it (`openstack keypair delete`) or set `keypair`" in result.output
    assert not any(shape(r) == "POST /v2.1/servers" for r in cluster.cloud.mutations())

    down = cluster.run("down")
    assert down.exit_code == 0, down.output
    assert cluster.cloud.state.keypairs[name]["public_key"] == theirs
    assert not any("os-keypairs" in r.path for r in cluster.cloud.mutations())
