"""The token and the generated key: made once, owner-only, refused when a server has another."""

import stat
from pathlib import Path

import pytest

from starcast.bootstrap.cloud import CloudError
from starcast.bootstrap.secrets import ClusterSecrets


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_tokens_are_generated_once_apart_and_kept_owner_only(tmp_path: Path) -> None:
    secrets = ClusterSecrets(tmp_path / "state")
    tokens = secrets.ensure_tokens(server_exists=False)
    assert len(tokens.server) == len(tokens.agent) == 64
    assert tokens.server != tokens.agent
    assert secrets.ensure_tokens(server_exists=True) == tokens
    for path in (secrets.token_path, secrets.agent_token_path):
        assert _mode(path) == 0o600
    assert _mode(secrets.directory) == 0o700
    secrets.forget(generated_key=False)
    assert not secrets.token_path.exists() and not secrets.agent_token_path.exists()


def test_a_server_without_its_token_is_an_error_not_a_new_token(tmp_path: Path) -> None:
    secrets = ClusterSecrets(tmp_path / "state")
    with pytest.raises(CloudError, match="restore that file"):
        secrets.ensure_tokens(server_exists=True)
    assert not secrets.token_path.exists()


def test_the_generated_key_is_ed25519_owner_only_and_stable(tmp_path: Path) -> None:
    secrets = ClusterSecrets(tmp_path / "state")
    public = secrets.ensure_key()
    assert public.startswith("ssh-ed25519 ")
    assert secrets.ensure_key() == public
    assert _mode(secrets.key_path) == 0o600
    secrets.forget(generated_key=True)
    assert not secrets.key_path.exists()
