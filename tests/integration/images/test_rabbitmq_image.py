"""The test RabbitMQ image keeps the official image's contract under the chart's securityContext.

The container runs under runc as charts/starcast-serving's StatefulSet runs it: uid 100 gid 101,
a read-only root, no capabilities, no new privileges, writable only the data, log and /tmp
volumes, RABBITMQ_DEFAULT_USER/PASS in the env. The chart's own probe commands must then pass,
and the default user must log in. Its network namespace is private (only loopback), so it
clashes with no other broker on this machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.integration.images.built import REPO, BuiltImage, buildah, image_config, mounted_rootfs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STATEFULSET: Final = REPO / "charts/starcast-serving/templates/rabbitmq-statefulset.yaml"
VALUES: Final = REPO / "charts/starcast-serving/values.yaml"
STARTUP_TIMEOUT: Final = 180.0


def chart_probes() -> dict[str, list[str]]:
    """The exec probes of the chart's RabbitMQ container, read from its template."""
    probes: dict[str, list[str]] = {}
    lines = STATEFULSET.read_text().splitlines()
    for number, line in enumerate(lines):
        for probe in ("readinessProbe", "livenessProbe"):
            if line.strip() == f"{probe}:":
                command_line = next(text for text in lines[number:] if "command:" in text)
                probes[probe] = json.loads(command_line.split("command:", 1)[1])
    assert set(probes) == {"readinessProbe", "livenessProbe"}, STATEFULSET
    return probes


def chart_security() -> dict[str, Any]:
    values = yaml.safe_load(VALUES.read_text())
    context: dict[str, Any] = values["rabbitmq"]["podSecurityContext"]
    return context


def empty_dirs(work: Path, group: int) -> dict[str, Path]:
    """The chart's volumes, made as the kubelet makes emptyDirs: mode 0777, fsGroup, setgid."""
    volumes: dict[str, Path] = {}
    for mount in ("/var/lib/rabbitmq", "/var/log/rabbitmq", "/tmp"):  # the chart's volumeMounts
        volume = work / "volumes" / mount.strip("/").replace("/", "-")
        volume.mkdir(parents=True)
        os.chown(volume, 0, group)
        volume.chmod(0o2777)
        volumes[mount] = volume
    return volumes


def bundle_config(
    rootfs: Path, image: BuiltImage, password: str, volumes: dict[str, Path]
) -> dict[str, Any]:
    """An OCI runtime config of the image, with the chart's pod and container securityContext."""
    config = image_config(image.ref)
    security = chart_security()
    env = {**config.environment(), "RABBITMQ_DEFAULT_USER": "starcast"}
    env["RABBITMQ_DEFAULT_PASS"] = password
    return {
        "ociVersion": "1.0.2",
        "root": {"path": str(rootfs), "readonly": True},  # readOnlyRootFilesystem: true
        "hostname": "rabbitmq-0",
        "process": {
            "terminal": False,
            "user": {
                "uid": security["runAsUser"],
                "gid": security["runAsGroup"],
                "additionalGids": [security["fsGroup"]],
            },
            "args": config.command(),
            "env": [f"{key}={value}" for key, value in env.items()],
            "cwd": config.working_dir or "/",
            "capabilities": {k: [] for k in ("bounding", "effective", "permitted", "ambient")},
            "noNewPrivileges": True,  # allowPrivilegeEscalation: false
        },
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            *(
                {"destination": path, "type": "bind", "source": str(volume),
                 "options": ["rbind", "rw", "nosuid", "nodev"]}
                for path, volume in volumes.items()
            ),
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


class Runc:
    """One runc container with its own state root, so nothing is shared with other runs."""

    def __init__(self, root: Path, name: str) -> None:
        self.root, self.name = root, name
        self.runc = shutil.which("runc")
        assert self.runc is not None, "runc is not installed (Debian's runc package)"

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.runc), "--root", str(self.root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return self("exec", self.name, *command, timeout=60)


@pytest.fixture(scope="module")
def rabbitmq_container(
    built_images: dict[str, BuiltImage], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Runc, str, Path]]:
    image = built_images["rabbitmq"]
    work = tmp_path_factory.mktemp("rabbitmq-runc")
    container, rootfs = mounted_rootfs(image.ref)
    password = secrets.token_hex(12)
    bundle = work / "bundle"
    bundle.mkdir()
    volumes = empty_dirs(work, chart_security()["fsGroup"])
    config = bundle_config(rootfs, image, password, volumes)
    (bundle / "config.json").write_text(json.dumps(config))
    runc = Runc(work / "state", f"starcast-rabbitmq-{secrets.token_hex(4)}")
    log = work / "rabbitmq.log"
    with log.open("w") as output:
        started = subprocess.run(
            [str(runc.runc), "--root", str(runc.root), "run", "--detach", "--bundle", str(bundle), runc.name],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            timeout=60,
            check=False,
        )
    try:
        assert started.returncode == 0, f"runc run failed:\n{log.read_text()}"
        yield runc, password, log
    finally:
        runc("kill", runc.name, "KILL")
        deadline = time.monotonic() + 30
        while runc("delete", "--force", runc.name).returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        buildah("umount", container)
        buildah("rm", container)


def wait_for(runc: Runc, command: list[str], log: Path) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        result = runc.exec(*command)
        if result.returncode == 0 or time.monotonic() > deadline:
            break
        state = runc("state", runc.name)
        assert '"running"' in state.stdout, f"RabbitMQ exited:\n{log.read_text()[-4000:]}"
        time.sleep(2)
    return result


def test_the_chart_probes_pass_under_its_restricted_security_context(
    rabbitmq_container: tuple[Runc, str, Path],
) -> None:
    runc, _, log = rabbitmq_container
    for probe, command in chart_probes().items():
        result = wait_for(runc, command, log)
        assert result.returncode == 0, (
            f"{probe} {command} fails:\n{result.stdout}{result.stderr}\n{log.read_text()[-4000:]}"
        )


def test_the_default_user_of_the_env_logs_in_and_guest_stays_off_the_network(
    rabbitmq_container: tuple[Runc, str, Path],
) -> None:
    runc, password, log = rabbitmq_container
    wait_for(runc, ["rabbitmq-diagnostics", "-q", "check_port_connectivity"], log)
    logged_in = runc.exec("rabbitmqctl", "authenticate_user", "starcast", password)
    assert logged_in.returncode == 0, logged_in.stdout + logged_in.stderr
    wrong = runc.exec("rabbitmqctl", "authenticate_user", "starcast", password + "x")
    assert wrong.returncode != 0
    users = runc.exec("rabbitmqctl", "-q", "list_users")
    assert "starcast" in users.stdout and "guest" not in users.stdout, users.stdout


def test_it_listens_on_the_official_ports_and_logs_to_the_console(
    rabbitmq_container: tuple[Runc, str, Path],
) -> None:
    runc, _, log = rabbitmq_container
    wait_for(runc, ["rabbitmq-diagnostics", "-q", "check_port_connectivity"], log)
    listeners = runc.exec("rabbitmq-diagnostics", "-q", "listeners")
    assert "5672" in listeners.stdout and "15692" in listeners.stdout, listeners.stdout
    assert "Server startup complete" in log.read_text(), log.read_text()[-4000:]
