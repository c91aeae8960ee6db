"""The cluster's local secrets: the k3s tokens, a generated SSH key, the kubeconfig (all 0600).

Why a local state directory and not a tagged cloud resource for the token: anything the cloud
holds (tags, server metadata, a Barbican-less "secret" in a description) is readable by every
member of the project and shows up in `openstack ... show`; the token lets a machine join the
cluster. It is generated once, before the first VM is booted, and read back by every later
`up`, so agents added by a re-run join the same server. `down` removes it with the cluster.

Two tokens, as k3s has them: the server token (`token`, which also lets a machine join as a
server and decrypts the datastore's bootstrap data) goes to servers only; agents get the agent
token (`agent-token` on the servers), which lets a machine join as an agent and nothing more.
Whatever a VM's user-data holds, Nova keeps and serves to every process on that VM.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from starcast.bootstrap.cloud import CloudError


def write_private(path: Path, data: bytes) -> None:
    """Write `data` readable by the owner only, atomically: a reader sees all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


@dataclass(frozen=True)
class Tokens:
    """The server token (servers only) and the agent token (agents and servers)."""

    server: str
    agent: str


@dataclass(frozen=True)
class ClusterSecrets:
    """Paths in the cluster's state directory."""

    directory: Path

    @property
    def token_path(self) -> Path:
        return self.directory / "token"

    @property
    def agent_token_path(self) -> Path:
        return self.directory / "agent-token"

    @property
    def key_path(self) -> Path:
        return self.directory / "id_ed25519"

    def token(self) -> str | None:
        return _read(self.token_path)

    def ensure_tokens(self, server_exists: bool) -> Tokens:
        """Both tokens: the saved ones, or new ones if no server was booted with others."""
        return Tokens(
            _ensure(self.token_path, server_exists), _ensure(self.agent_token_path, server_exists)
        )

    def ensure_key(self) -> str:
        """The generated ed25519 key's public half (OpenSSH format), made on first use."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if not self.key_path.exists():
            private = Ed25519PrivateKey.generate()
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
            write_private(self.key_path, pem)
        return self.public_key()

    def public_key(self) -> str:
        from cryptography.hazmat.primitives import serialization

        private = serialization.load_ssh_private_key(self.key_path.read_bytes(), password=None)
        public = private.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        return public.decode()

    def forget(self, generated_key: bool) -> None:
        """After `down`: the token (and the generated key) belong to a cluster that is gone."""
        paths = [self.token_path, self.agent_token_path]
        paths += [self.key_path] if generated_key else []
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _ensure(path: Path, server_exists: bool) -> str:
    token = _read(path)
    if token is not None:
        return token
    if server_exists:
        raise CloudError(
            f"the k3s server VM exists but its {path.name} is not in {path}: restore that "
            "file (from the machine that ran the first `up`) or run `down`"
        )
    token = secrets.token_hex(32)
    write_private(path, f"{token}\n".encode())
    return token
