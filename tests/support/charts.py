"""The project's Helm charts in tests: rendering them, and running a rendered container locally.

A pod's container can't run on a kwok node, so where a test needs the workload itself it takes
the container as the API server stored it (command, args, env, envFrom, volume mounts, probes)
and runs that as a local process, the way a kubelet would start it:

- env is built in the kubelet's order: ``envFrom`` (ConfigMaps, Secrets read from the cluster),
  then ``env``, whose ``$(VAR)`` references expand against what came before;
- each ``emptyDir`` mount becomes a fresh local directory, and env values and probe commands
  under its mount path point into it;
- the command's first word resolves on the image's PATH, which here is this venv's ``bin``
  (the images tests prove the image's venv runs the same entrypoints);
- probes run as the kubelet runs them: an exec probe's command, an HTTP GET on the port.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final

import httpx
import yaml

from tests.support.kube import REPO_ROOT, KubePlane

CHARTS_DIR: Final = REPO_ROOT / "charts"
SERVING_CHART: Final = CHARTS_DIR / "starcast-serving"
OPERATOR_CHART: Final = CHARTS_DIR / "starcast-operator"
RESTRICTED_LABEL: Final = "pod-security.kubernetes.io/enforce=restricted"
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

Manifest = dict[str, Any]


def scenarios(chart: Path) -> list[Path]:
    """The chart's ci/ values files, one per scenario."""
    return sorted((chart / "ci").glob("*-values.yaml"))


def render(
    plane: KubePlane,
    chart: Path,
    *args: str,
    release: str = "test",
    namespace: str = "starcast",
) -> list[Manifest]:
    """``helm template`` of the chart: every object it renders (tests included)."""
    out = plane.helm(
        "template", release, str(chart), "--namespace", namespace, "--include-crds", *args
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def notes(
    plane: KubePlane,
    chart: Path,
    *args: str,
    release: str = "test",
    namespace: str = "starcast",
) -> str:
    """What ``helm install`` prints after NOTES: (a client-side dry run: nothing is created)."""
    out = plane.helm(
        "install", release, str(chart), "--namespace", namespace, "--dry-run=client", *args
    ).stdout
    assert "NOTES:" in out, out[-2000:]
    return out.split("NOTES:", 1)[1]


def find(objects: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    """The one object of ``kind`` (and ``name``); fails listing what there is."""
    matches = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(matches) == 1, (
        f"expected one {kind} {name or ''}, found {len(matches)} among "
        f"{sorted((o['kind'], o['metadata']['name']) for o in objects)}"
    )
    return matches[0]


def kinds(objects: list[Manifest]) -> list[tuple[str, str]]:
    return sorted((o["kind"], o["metadata"]["name"]) for o in objects)


def pod_specs(objects: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    """(object name, pod spec) of every workload and bare pod rendered."""
    found = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            found.append((obj["metadata"]["name"], obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "Pod":
            found.append((obj["metadata"]["name"], obj["spec"]))
    return found


def restrict_namespace(plane: KubePlane, namespace: str) -> None:
    """Pod Security admission enforces ``restricted`` in the namespace from now on."""
    plane.kubectl("label", "namespace", namespace, RESTRICTED_LABEL, "--overwrite")


@dataclass
class LocalContainer:
    """A container of a live pod template, translated to run as a local process."""

    argv: list[str]
    env: dict[str, str]
    mounts: dict[str, Path]  # mount path in the container -> local directory
    container: dict[str, Any] = field(repr=False)

    def local_path(self, value: str) -> str:
        """``value`` with a container mount path prefix replaced by its local directory."""
        for mount_path, local in sorted(self.mounts.items(), key=lambda kv: -len(kv[0])):
            if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
                return str(local) + value[len(mount_path.rstrip("/")) :]
        return value

    def port(self, name_or_number: str | int) -> int:
        if isinstance(name_or_number, int):
            return name_or_number
        for port in self.container.get("ports", []):
            if port.get("name") == name_or_number:
                return int(port["containerPort"])
        raise AssertionError(f"container {self.container['name']} has no port {name_or_number}")

    def probe(self, kind: str = "readinessProbe") -> bool:
        """Run the container's probe once, as the kubelet does; True if it passes."""
        probe = self.container[kind]
        if "exec" in probe:
            command = [self.local_path(word) for word in probe["exec"]["command"]]
            return subprocess.run(command, check=False, capture_output=True).returncode == 0
        if "httpGet" in probe:
            get = probe["httpGet"]
            url = f"http://127.0.0.1:{self.port(get['port'])}{get.get('path', '/')}"
            try:
                answer = httpx.get(url, timeout=probe.get("timeoutSeconds", 1))
            except httpx.HTTPError:
                return False
            return 200 <= answer.status_code < 400
        raise AssertionError(f"unsupported probe {probe}")


def _decoded(data: Mapping[str, str] | None) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (data or {}).items()}


def _expand(value: str, env: Mapping[str, str]) -> str:
    # $(VAR) expands when VAR is defined earlier; $$(VAR) escapes it (kubelet rules).
    return re.sub(
        r"\$\$|" + _REFERENCE.pattern,
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        value,
    )


class ClusterObjects:
    """ConfigMaps and Secrets of one namespace, read from the API server as a kubelet would."""

    def __init__(self, plane: KubePlane, namespace: str) -> None:
        self._plane = plane
        self._namespace = namespace

    def data(self, kind: str, name: str) -> dict[str, str]:
        obj = self._plane.kubectl_json("get", kind, name, "-n", self._namespace)
        return _decoded(obj.get("data")) if kind == "secret" else dict(obj.get("data") or {})


def local_container(
    pod_spec: dict[str, Any],
    name: str,
    objects: ClusterObjects,
    scratch: Path,
    *,
    bin_dir: Path | None = None,
    image_command: list[str] | None = None,
) -> LocalContainer:
    """The container ``name`` of ``pod_spec`` as a local process (see the module docstring).

    ``image_command``: for a container that runs its image's ENTRYPOINT (the chart sets no
    command, as for the official RabbitMQ image), the local program that stands for it.
    """
    container = next(c for c in pod_spec["containers"] if c["name"] == name)
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    mounts: dict[str, Path] = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        assert "emptyDir" in volume, f"only emptyDir mounts run locally, not {volume}"
        local = scratch / mount["name"]
        local.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = local
    bin_dir = bin_dir or Path(sys.executable).parent
    env: dict[str, str] = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(objects.data("configmap", source["configMapRef"]["name"]))
        elif "secretRef" in source:
            env.update(objects.data("secret", source["secretRef"]["name"]))
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = _expand(variable["value"], env)
        else:
            ref = variable["valueFrom"]
            if "secretKeyRef" in ref:
                key = ref["secretKeyRef"]
                env[variable["name"]] = objects.data("secret", key["name"])[key["key"]]
            elif "configMapKeyRef" in ref:
                key = ref["configMapKeyRef"]
                env[variable["name"]] = objects.data("configmap", key["name"])[key["key"]]
            else:
                raise AssertionError(f"unsupported env source {ref}")
    translated = LocalContainer([], env, mounts, container)
    env = {k: translated.local_path(v) for k, v in env.items()}
    command = [*container.get("command", image_command or []), *container.get("args", [])]
    assert command, f"container {name} relies on the image's entrypoint; the chart sets none"
    argv = [str(bin_dir / command[0]) if "/" not in command[0] else command[0], *command[1:]]
    return LocalContainer([_expand(a, env) for a in argv], env, mounts, container)


def _established(plane: KubePlane, crd: str) -> bool:
    jsonpath = '{.status.conditions[?(@.type=="Established")].status}'
    result = plane.kubectl("get", "crd", crd, f"-o=jsonpath={jsonpath}", check=False)
    return result.stdout.strip() == "True"


def install_operator_crds(plane: KubePlane, kuberay: Path) -> None:
    """The operator chart's CRDs and KubeRay's RayJob CRD (``kuberay``: the KubeRay addon's
    dir), so that the API server (and kubectl auth can-i) knows every kind the operator uses."""
    from tests.support.kube import wait_until

    files = [*sorted((OPERATOR_CHART / "crds").glob("*.yaml")),
             kuberay / "config/crd/bases/ray.io_rayjobs.yaml"]  # fmt: skip
    # Server-side: the RayJob CRD is too large for client-side apply's annotation.
    plane.kubectl("apply", "--server-side", *[arg for f in files for arg in ("-f", str(f))])
    for crd in ("trainingruns.starcast.io", "modelreleases.starcast.io", "rayjobs.ray.io"):
        wait_until(partial(_established, plane, crd), f"CRD {crd} established")
