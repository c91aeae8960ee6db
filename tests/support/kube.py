"""Fixtures for tests that need a real Kubernetes API server.

The plane is etcd, kube-apiserver, kube-controller-manager and kube-scheduler built
from the Kubernetes Go modules, plus kwok for nodes, all run as processes by
``hack/kube-plane.sh`` (envtest's idea with kwok for nodes: no container engine needed).

- ``kube_plane`` (session): starts a private plane in a fresh state dir on free loopback
  ports, puts its kubectl and helm first on ``PATH``, sets ``KUBECONFIG``, and stops it at
  the end. With ``STARCAST_TEST_KUBECONFIG`` set, it uses that cluster instead and starts
  nothing (kubectl and helm still come from the cached build).
- ``kube_namespace`` (function): a fresh namespace per test, deleted afterwards.

Use them from any test directory with a ``conftest.py`` that re-exports them (pytest finds
fixtures and hooks by name in conftest modules)::

    from tests.support.kube import kube_namespace, kube_plane, pytest_collection_finish

    __all__ = ["kube_namespace", "kube_plane", "pytest_collection_finish"]

and in a test: ``kube_plane.kubectl("get", "pods", "-n", kube_namespace)`` or
``kube_plane.helm("install", ...)``; both fail the test with the command's output when it
exits non-zero (pass ``check=False`` to inspect a failure). ``kube_plane.env`` is the
environment to hand to other processes (``KUBECONFIG``, ``PATH`` with kubectl and helm);
the fixture also sets it in ``os.environ`` for the session.

A plane that can't start fails the test with the script's output: never a skip.
The first build of the binaries can take longer than a test's timeout, so it runs at
the end of collection when any selected test uses the plane (``make test`` builds first).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
PLANE_SCRIPT: Final = REPO_ROOT / "hack" / "kube-plane.sh"
VERSIONS_FILE: Final = REPO_ROOT / "hack" / "kube" / "versions.env"
EXTERNAL_KUBECONFIG_ENV: Final = "STARCAST_TEST_KUBECONFIG"
FIXTURE_NAMES: Final = frozenset({"kube_plane", "kube_namespace"})
BUILD_TIMEOUT_S: Final = 90 * 60
BUILD_RESULT: Final = pytest.StashKey[Path | str]()
UP_TIMEOUT_S: Final = 300
COMMAND_TIMEOUT_S: Final = 180


class KubeCommandError(AssertionError):
    """A kubectl or helm command failed; the message carries its command line and output."""


@dataclass(frozen=True)
class KubePlane:
    """A running cluster: where its kubeconfig and binaries are, and the env to reach it."""

    kubeconfig: Path
    bin_dir: Path
    env: Mapping[str, str]
    state_dir: Path | None = None
    versions: Mapping[str, str] = field(default_factory=dict)

    def kubectl(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float = COMMAND_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """Run this plane's kubectl; see :func:`run`."""
        argv = [str(self.bin_dir / "kubectl"), *args]
        return run(self, argv, check=check, input=input, timeout=timeout)

    def kubectl_json(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> dict[str, Any]:
        """Run ``kubectl ARGS --output=json`` and parse what it prints."""
        out = self.kubectl(*args, "--output=json", timeout=timeout).stdout
        parsed: dict[str, Any] = json.loads(out)
        return parsed

    def helm(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float = COMMAND_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """Run this plane's helm; see :func:`run`."""
        argv = [str(self.bin_dir / "helm"), *args]
        return run(self, argv, check=check, input=input, timeout=timeout)


def run(
    plane: KubePlane,
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float = COMMAND_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    """Run a command against the plane; with ``check``, fail with its output if it fails."""
    try:
        result = subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            text=True,
            env=dict(plane.env),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise KubeCommandError(
            f"`{' '.join(argv)}` did not finish in {timeout:.0f}s\n"
            f"stdout:\n{exc.stdout!r}\nstderr:\n{exc.stderr!r}"
        ) from exc
    if check and result.returncode != 0:
        raise KubeCommandError(
            f"`{' '.join(argv)}` exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def kubectl(
    plane: KubePlane, *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run kubectl against the plane (returns the CompletedProcess, text output)."""
    return plane.kubectl(*args, check=check, input=input)


def helm(
    plane: KubePlane, *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run helm against the plane (returns the CompletedProcess, text output)."""
    return plane.helm(*args, check=check, input=input)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def pinned_versions() -> dict[str, str]:
    """The versions pinned in hack/kube/versions.env (KUBE_VERSION, HELM_VERSION, ...)."""
    pairs = (
        line.split("=", 1)
        for line in VERSIONS_FILE.read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    )
    return {key.strip(): value.strip() for key, value in pairs}


def _script(
    command: str, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["bash", str(PLANE_SCRIPT), command],
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"hack/kube-plane.sh {command} did not finish in {timeout:.0f}s\n"
            f"stderr so far:\n{exc.stderr!r}",
            pytrace=False,
        )


def build_binaries() -> Path | str:
    """Build (or find in the cache) the plane's binaries: their dir, or why it failed."""
    try:
        result = subprocess.run(
            ["bash", str(PLANE_SCRIPT), "build"],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"hack/kube-plane.sh build did not finish in {BUILD_TIMEOUT_S}s"
    if result.returncode != 0:
        return (
            "The local Kubernetes control plane could not be built "
            f"(hack/kube-plane.sh build exited {result.returncode}); it needs Go >= 1.26 "
            f"on PATH (or GO=...) and the Go module proxy.\nstderr:\n{result.stderr}"
        )
    return Path(result.stdout.strip().splitlines()[-1])


def _bin_dir(config: pytest.Config) -> Path:
    """The built binaries, from the build at collection's end or a build now."""
    built = config.stash.get(BUILD_RESULT, None)
    if built is None:
        built = config.stash[BUILD_RESULT] = build_binaries()
    if isinstance(built, str):
        pytest.fail(built, pytrace=False)
    return built


def parse_exports(text: str) -> dict[str, str]:
    """Parse the ``export K=V`` lines that ``hack/kube-plane.sh up`` prints.

    Values are shell-quoted; ``PATH`` is ``BIN:"$PATH"`` and comes back as ``BIN``.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("export "):
            continue
        key, _, quoted = line.removeprefix("export ").partition("=")
        value = "".join(shlex.split(quoted))
        values[key] = value.removesuffix(":$PATH") if key == "PATH" else value
    return values


def _env_with(bin_dir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


def start_plane(
    state_dir: Path, extra_env: Mapping[str, str] | None = None, timeout: float = UP_TIMEOUT_S
) -> KubePlane:
    """Start a plane in ``state_dir`` (``extra_env``: e.g. ``STARCAST_KUBE_REAL_NODE=1``)."""
    env = dict(os.environ)
    env.update(extra_env or {})
    env["STARCAST_KUBE_DIR"] = str(state_dir)
    # If pytest dies without running the finalizer, the plane's watchdog stops it.
    env["STARCAST_KUBE_WATCH_PID"] = str(os.getpid())
    result = _script("up", env, timeout)
    if result.returncode != 0:
        _script("down", env, 60)
        pytest.fail(
            "The local Kubernetes control plane did not start "
            f"(hack/kube-plane.sh up exited {result.returncode}); no kube test can run.\n"
            f"stderr:\n{result.stderr}",
            pytrace=False,
        )
    exports = parse_exports(result.stdout)
    bin_dir = Path(exports.pop("PATH"))
    return KubePlane(
        kubeconfig=Path(exports["KUBECONFIG"]),
        bin_dir=bin_dir,
        env=_env_with(bin_dir, exports),
        state_dir=state_dir,
        versions=pinned_versions(),
    )


def stop_plane(plane: KubePlane) -> None:
    if plane.state_dir is None:
        return
    env = dict(os.environ, STARCAST_KUBE_DIR=str(plane.state_dir))
    result = _script("down", env, 120)
    if result.returncode != 0:
        pytest.fail(f"hack/kube-plane.sh down failed:\n{result.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def kube_plane(pytestconfig: pytest.Config) -> Iterator[KubePlane]:
    """A real Kubernetes control plane for the session; its tools first on PATH."""
    bin_dir = _bin_dir(pytestconfig)
    external = os.environ.get(EXTERNAL_KUBECONFIG_ENV)
    if external:
        plane = KubePlane(
            kubeconfig=Path(external),
            bin_dir=bin_dir,
            env=_env_with(bin_dir, {"KUBECONFIG": external}),
            versions=pinned_versions(),
        )
    else:
        plane = start_plane(Path(tempfile.mkdtemp(prefix="starcast-kube-")))
    with pytest.MonkeyPatch.context() as patch:
        for key, value in plane.env.items():
            if os.environ.get(key) != value:
                patch.setenv(key, value)
        try:
            yield plane
        finally:
            stop_plane(plane)


def _namespace_name(test_name: str) -> str:
    stem = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"t-{stem}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def kube_namespace(kube_plane: KubePlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace (named after the test) that is deleted after the test."""
    name = _namespace_name(request.node.name)
    kube_plane.kubectl("create", "namespace", name)
    # Pods are refused until the namespace's default ServiceAccount exists.
    kube_plane.kubectl(
        "wait",
        "--for=create",
        f"--namespace={name}",
        "serviceaccount/default",
        "--timeout=60s",
    )
    try:
        yield name
    finally:
        kube_plane.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the binaries before any test runs (outside per-test timeouts), if needed."""
    if BUILD_RESULT in session.config.stash:  # the hook is re-exported by several conftests
        return
    if any(FIXTURE_NAMES.intersection(getattr(item, "fixturenames", ())) for item in session.items):
        session.config.stash[BUILD_RESULT] = build_binaries()
