"""Fetch k3s's kubeconfig from the server VM over SSH, point it at the public address, save 0600.

Why paramiko: a library call keeps the host key check, the key and the retries in our hands
(no ssh binary or ~/.ssh/known_hosts of the user's to depend on or pollute), and the flow is
synchronous like openstacksdk's, which asyncssh's event loop would only complicate.

The host key is not trusted on first use: cloud-init prints the VM's public host keys on the
serial console (`-----BEGIN SSH HOST KEY KEYS-----`), which Nova serves to the project
(os-getConsoleOutput); only a server presenting one of those keys is accepted.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

import yaml

from starcast.bootstrap.cloud import CloudError, call
from starcast.bootstrap.progress import Progress, poll

if TYPE_CHECKING:
    from openstack.connection import Connection

logger = logging.getLogger(__name__)
K3S_KUBECONFIG: Final = "/etc/rancher/k3s/k3s.yaml"
KEYS_BEGIN: Final = "-----BEGIN SSH HOST KEY KEYS-----"
KEYS_END: Final = "-----END SSH HOST KEY KEYS-----"
SSH_CONNECT_TIMEOUT_S: Final = 10.0


def host_keys_from_console(output: str) -> list[str]:
    """The `type base64` host keys cloud-init printed on the console (the last boot's block)."""
    if KEYS_BEGIN not in output:
        return []
    block = output.rsplit(KEYS_BEGIN, 1)[1].split(KEYS_END, 1)[0]
    return [" ".join(line.split()[:2]) for line in block.splitlines() if len(line.split()) >= 2]


def remote_command(user: str) -> str:
    # The file is root's (k3s writes it 0600); a login user reads it through sudo.
    return f"cat {K3S_KUBECONFIG}" if user == "root" else f"sudo -n cat {K3S_KUBECONFIG}"


def rewrite(kubeconfig: str, public_host: str, cluster: str) -> str:
    """Point each cluster entry at `public_host` (port kept); name the entries after the cluster."""
    document = yaml.safe_load(kubeconfig)
    if not isinstance(document, dict) or not document.get("clusters"):
        raise CloudError(f"{K3S_KUBECONFIG} on the server is not a kubeconfig")
    for entry in document["clusters"]:
        parts = urlsplit(entry["cluster"]["server"])
        entry["cluster"]["server"] = urlunsplit(
            parts._replace(netloc=f"{public_host}:{parts.port or 6443}")
        )
    renames = {"default": cluster}
    for section in ("clusters", "users", "contexts"):
        for entry in document.get(section, []):
            entry["name"] = renames.get(entry["name"], entry["name"])
    for entry in document.get("contexts", []):
        context = entry["context"]
        context["cluster"] = renames.get(context["cluster"], context["cluster"])
        context["user"] = renames.get(context["user"], context["user"])
    current = document.get("current-context") or "default"
    document["current-context"] = renames.get(current, current)
    return yaml.safe_dump(document, sort_keys=False)


class _ConsoleKeys:
    """paramiko policy: accept exactly the host keys the console shows, reject anything else."""

    def __init__(self, accepted: list[str]) -> None:
        self.accepted = set(accepted)

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        import paramiko

        if f"{key.get_name()} {key.get_base64()}" not in self.accepted:
            raise paramiko.SSHException(
                f"host key of {hostname} ({key.get_name()}) is not one the VM's console printed"
            )


def fetch_kubeconfig(
    conn: Connection,
    server: Any,
    address: str,
    *,
    user: str,
    port: int,
    key_file: Path,
    timeout: float,
    progress: Progress,
    interval: float,
) -> str:
    """The server's k3s.yaml, once SSH answers and k3s has written it."""
    import paramiko

    key = paramiko.PKey.from_path(key_file)
    last_error = "no attempt yet"

    def console_keys() -> list[str] | None:
        result = call(
            f"reading server {server.name}'s console",
            conn.compute.get_server_console_output,
            server,
        )
        return host_keys_from_console(result.get("output", "")) or None

    def attempt() -> str | None:
        nonlocal last_error
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(_ConsoleKeys(accepted))  # type: ignore[arg-type]
        try:
            client.connect(
                address,
                port=port,
                username=user,
                pkey=key,
                timeout=SSH_CONNECT_TIMEOUT_S,
                allow_agent=False,
                look_for_keys=False,
                banner_timeout=SSH_CONNECT_TIMEOUT_S,
                auth_timeout=SSH_CONNECT_TIMEOUT_S,
            )
            _, stdout, stderr = client.exec_command(
                remote_command(user), timeout=SSH_CONNECT_TIMEOUT_S
            )
            output = stdout.read().decode()
            if stdout.channel.recv_exit_status() != 0 or not output.strip():
                last_error = (
                    f"k3s has not written {K3S_KUBECONFIG} yet ({stderr.read().decode().strip()})"
                )
                return None
            return output
        except (OSError, paramiko.SSHException) as error:
            last_error = f"{type(error).__name__}: {error}"
            logger.debug("ssh not ready", extra={"server": server.name, "error": last_error})
            return None
        finally:
            client.close()

    started = time.monotonic()
    with progress.waiting(f"the kubeconfig over SSH ({user}@{address}:{port})", timeout):
        accepted = poll(
            f"server {server.name}'s host keys on its console",
            console_keys,
            timeout,
            "cloud-init has not reported the SSH host keys: is the image cloud-init "
            "enabled? See `openstack console log show`",
            interval,
        )
        remaining = max(timeout - (time.monotonic() - started), interval)
        try:
            return poll("the kubeconfig", attempt, remaining, "", interval)
        except Exception as error:
            raise CloudError(
                f"could not fetch {K3S_KUBECONFIG} from {user}@{address}:{port} within "
                f"{timeout:.0f}s (last: {last_error}). Check that admin_cidrs let you reach port "
                f"{port}, ssh_user for the image, and the VM's console log"
            ) from error
