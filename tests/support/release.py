"""What the ModelRelease tests and bench/release.py share: the operator watching one namespace,
the test worker chart, and a watch that counts Ready worker pods throughout a rollout.

The worker Deployment comes from a tiny chart with the serving chart's labels and model fields
(tests/integration/release/testdata/workers-chart), installed with the plane's real helm, so a
`helm upgrade` is the real thing. Pods are kwok's; the stage in hack/kube-stages/ keeps pods
whose model digest begins with `0bad0bad` from ever becoming Ready.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from tests.support.kube import REPO_ROOT, KubePlane
from tests.support.operator_process import OperatorProcess, operator_env

CRD_DIR: Final = REPO_ROOT / "charts" / "starcast-operator" / "crds"
WORKERS_CHART: Final = (
    REPO_ROOT / "tests" / "integration" / "release" / "testdata" / "workers-chart"
)
SERVING_RELEASE: Final = "serving"
WORKERS: Final = f"{SERVING_RELEASE}-starcast-serving-worker"
CANARY: Final = f"{WORKERS}-canary"
# The kwok stages' markers: pods with such a digest never get Ready, or crash-loop.
BAD_DIGEST_PREFIX: Final = "0bad0bad"
CRASH_LOOP_DIGEST_PREFIX: Final = "deadc0de"


def digest(seed: str, *, bad: bool = False, prefix: str = "") -> str:
    """A well-formed sha256 for tests; `bad` ones are refused by the stand-in workers, and a
    `prefix` of a kwok stage (CRASH_LOOP_DIGEST_PREFIX) gets that stage's pods."""
    import hashlib

    value = hashlib.sha256(seed.encode()).hexdigest()
    prefix = BAD_DIGEST_PREFIX if bad else prefix
    return prefix + value[len(prefix) :]


def install_crds(plane: KubePlane) -> None:
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_DIR))
    plane.kubectl(
        "wait", "--for=condition=Established", "crd/modelreleases.starcast.io", "--timeout=60s"
    )


def install_workers(plane: KubePlane, namespace: str, *values: str) -> None:
    """`helm install serving` of the worker chart; waits until its pods are Ready."""
    plane.helm(
        "install", SERVING_RELEASE, str(WORKERS_CHART), "--namespace", namespace,
        "--wait", "--timeout=120s", *(arg for value in values for arg in ("--set", value)),
    )  # fmt: skip


def model_release(
    name: str,
    *,
    sha256: str,
    version: str,
    strategy: dict[str, Any] | None = None,
    analysis: dict[str, Any] | None = None,
    deadline_s: int = 60,
    automatic_rollback: bool = True,
) -> str:
    """A ModelRelease manifest (YAML) for the test workers."""
    spec: dict[str, Any] = {
        "model": {"uri": f"s3://models/{version}", "sha256": sha256, "version": version},
        "target": {"release": SERVING_RELEASE},
        "progressDeadlineSeconds": deadline_s,
    }
    if strategy is not None:
        spec["strategy"] = strategy
    if analysis is not None:
        spec["analysis"] = analysis
    if not automatic_rollback:
        spec["rollback"] = {"automatic": False}
    return yaml.safe_dump(
        {
            "apiVersion": "starcast.io/v1alpha1",
            "kind": "ModelRelease",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


@dataclass
class ReadyWatch:
    """Counts Ready worker pods (stable and canary) on every pod event, from a real watch."""

    namespace: str
    ready: dict[str, bool] = field(default_factory=dict)
    counts: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._started.wait(30):
            raise AssertionError("the pod watch did not start")

    def _run(self) -> None:
        from kubernetes import client, config, watch

        # The client's watch and list calls are untyped: Any from here on.
        api: Any = client.CoreV1Api(
            config.new_client_from_config(os.environ["KUBECONFIG"])  # type: ignore[no-untyped-call]
        )
        selector = "app.kubernetes.io/component=worker"
        while not self._stop.is_set():
            listed: Any = api.list_namespaced_pod(self.namespace, label_selector=selector)
            self.ready = {pod.metadata.name: _is_ready(pod) for pod in listed.items}
            self._record()
            self._started.set()
            stream: Any = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in stream.stream(
                    api.list_namespaced_pod,
                    self.namespace,
                    label_selector=selector,
                    resource_version=listed.metadata.resource_version,
                    timeout_seconds=5,
                ):
                    pod = event["object"]
                    if event["type"] == "DELETED":
                        self.ready.pop(pod.metadata.name, None)
                    else:
                        self.ready[pod.metadata.name] = _is_ready(pod)
                    self._record()
                    if self._stop.is_set():
                        break
            finally:
                stream.stop()

    def _record(self) -> None:
        self.counts.append((time.monotonic(), sum(self.ready.values())))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def minimum(self) -> int:
        return min(count for _, count in self.counts)


def _is_ready(pod: Any) -> bool:
    if pod.metadata.deletion_timestamp is not None:
        return False  # terminating: the endpoints already dropped it
    return any(
        cond.type == "Ready" and cond.status == "True" for cond in pod.status.conditions or ()
    )


def status(plane: KubePlane, namespace: str, name: str) -> dict[str, Any]:
    found = plane.kubectl_json("get", "modelrelease", name, "-n", namespace)
    result: dict[str, Any] = found.get("status") or {}
    return result


def deployment(plane: KubePlane, namespace: str, name: str = WORKERS) -> dict[str, Any]:
    return plane.kubectl_json("get", "deployment", name, "-n", namespace)


def model_env(deploy: dict[str, Any]) -> dict[str, str]:
    containers = deploy["spec"]["template"]["spec"]["containers"]
    return {var["name"]: var.get("value", "") for var in containers[0].get("env", [])}


def release_operator(plane: KubePlane, namespace: str, log_path: Path) -> OperatorProcess:
    """The real operator watching `namespace` only, standalone; started (its liveness answers)."""
    return OperatorProcess(
        operator_env(plane.env), log_path, "--standalone", "--namespace", namespace
    ).start()
