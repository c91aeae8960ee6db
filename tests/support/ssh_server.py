"""A real OpenSSH server (Debian's openssh-server) on a loopback port, standing in for the k3s VM.

It runs with a throwaway ed25519 host key and its own config (no PAM, no system files). The
login's command is checked by a ``ForceCommand`` script: it serves the test's kubeconfig when,
and only when, the client asks for k3s's ``/etc/rancher/k3s/k3s.yaml`` as the bootstrap does
(this machine's own /etc is not touched), and records every command it was sent.

:func:`cloud_init_console` renders the host key the way cloud-init prints it on a VM's serial
console, for the fake Nova's os-getConsoleOutput: the bootstrap checks the key against it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

K3S_KUBECONFIG: Final = "/etc/rancher/k3s/k3s.yaml"
SSHD_CANDIDATES: Final = ("/usr/sbin/sshd", "/sbin/sshd")
# sshd (as root) insists on its privilege-separation directory, compiled in as /run/sshd on
# Debian; systemd's unit would create it, and nothing here runs that unit.
PRIVSEP_DIR: Final = Path("/run/sshd")


@dataclass
class SshServer:
    host: str
    port: int
    user: str
    directory: Path
    host_public_key: str  # "ssh-ed25519 AAAA..."
    process: subprocess.Popen[bytes]

    @property
    def authorized_keys(self) -> Path:
        return self.directory / "authorized_keys"

    @property
    def kubeconfig(self) -> Path:
        """What the VM's /etc/rancher/k3s/k3s.yaml holds; empty until a test writes it."""
        return self.directory / "k3s.yaml"

    @property
    def commands(self) -> list[str]:
        log = self.directory / "commands.log"
        return log.read_text().splitlines() if log.exists() else []

    def log(self) -> str:
        path = self.directory / "sshd.log"
        return path.read_text() if path.exists() else ""


def cloud_init_console(host_public_key: str, hostname: str = "starcast-server") -> str:
    """A console log's tail as cloud-init writes it (cc_keys_to_console), host keys included."""
    return "\n".join(
        [
            "[   12.345678] cloud-init[612]: Cloud-init v. 22.4.2 running 'modules:config'",
            "-----BEGIN SSH HOST KEY FINGERPRINTS-----",
            f"256 SHA256:unused root@{hostname} (ED25519)",
            "-----END SSH HOST KEY FINGERPRINTS-----",
            "-----BEGIN SSH HOST KEY KEYS-----",
            f"{host_public_key} root@{hostname}",
            "-----END SSH HOST KEY KEYS-----",
            "[   20.000000] cloud-init[700]: Cloud-init v. 22.4.2 finished.",
            "",
        ]
    )


def _sshd() -> str:
    found = shutil.which("sshd") or next((c for c in SSHD_CANDIDATES if Path(c).exists()), None)
    if found is None:
        pytest.fail(
            "sshd not found: run `make system-deps` (installs openssh-server)", pytrace=False
        )
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_private(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def start_ssh_server(directory: Path) -> SshServer:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    host_key = Ed25519PrivateKey.generate()
    _write_private(
        directory / "host_ed25519",
        host_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode(),
    )
    public = (
        host_key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    (directory / "authorized_keys").touch(mode=0o600)
    (directory / "k3s.yaml").touch(mode=0o600)
    serve = directory / "serve-kubeconfig.sh"
    wanted = f'"cat {K3S_KUBECONFIG}"|"sudo -n cat {K3S_KUBECONFIG}"'
    serve.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$SSH_ORIGINAL_COMMAND" >> "{directory}/commands.log"\n'
        'case "$SSH_ORIGINAL_COMMAND" in\n'
        f'  {wanted}) exec cat "{directory}/k3s.yaml" ;;\n'
        '  *) echo "this stand-in VM only serves the k3s kubeconfig" >&2; exit 1 ;;\n'
        "esac\n"
    )
    serve.chmod(0o700)
    user = os.environ.get("USER") or "root"
    port = _free_port()
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"ListenAddress 127.0.0.1:{port}",
                f"HostKey {directory / 'host_ed25519'}",
                f"AuthorizedKeysFile {directory / 'authorized_keys'}",
                "PidFile none",
                "UsePAM no",
                "StrictModes no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                f"AllowUsers {user}",
                f"ForceCommand {serve}",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    if os.geteuid() == 0 and not PRIVSEP_DIR.exists():
        PRIVSEP_DIR.mkdir(mode=0o755)
    with (directory / "sshd.log").open("ab") as log:  # sshd keeps its own copy of the fd
        process = subprocess.Popen(
            [_sshd(), "-D", "-e", "-f", str(config)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    server = SshServer("127.0.0.1", port, user, directory, public, process)
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            pytest.fail(f"sshd exited {process.returncode}:\n{server.log()}", pytrace=False)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return server
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"sshd did not listen on {port}:\n{server.log()}", pytrace=False)
        time.sleep(0.05)


@pytest.fixture
def ssh_server(tmp_path: Path) -> Iterator[SshServer]:
    server = start_ssh_server(tmp_path / "sshd")
    try:
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
