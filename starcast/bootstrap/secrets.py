"""The cluster's local secrets: the k3s token, a generated SSH key, the kubeconfig (all 0600).

Why a local state directory and not a tagged cloud resource for the token: anything the cloud
holds (tags, server metadata, a Barbican-less "secret" in a description) is readable by every
member of the project and shows up in `openstack ... show`; the token lets a machine join the
cluster. It is generated once, before the first VM is booted, and read back by every later
`up`, so agents added by a re-run join the same server. `down` removes it with the cluster.
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
class ClusterSecrets:
    """Paths in the cluster's state directory."""

    directory: Path

    @property
    def token_path(self) -> Path:
        return self.directory / "token"

    @property
    def key_path(self) -> Path:
        return self.directory / "id_ed25519"

    def token(self) -> str | None:
        try:
            return self.token_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def ensure_token(self, server_exists: bool) -> str:
        """The cluster token: the saved one, or a new one if no server was booted with another."""
        token = self.token()
        if token is not None:
            return token
        if server_exists:
            raise CloudError(
                f"the k3s server VM exists but its cluster token is not in {self.token_path}: "
                "restore that file (from the machine that ran the first `up`) or run `down`"
            )
        token = secrets.token_hex(32)
        write_private(self.token_path, f"{token}\n".encode())
        return token

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
        paths = [self.token_path] + ([self.key_path] if generated_key else [])
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
