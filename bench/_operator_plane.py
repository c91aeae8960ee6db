"""bench/operator.py's pieces: the plane, the S3 server and the RayJob stand-in, the baseline,
and what is read back (the audit log, a watch, API request counts, CPU by process).

See bench/operator.py for what is measured and why each piece runs as it does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any, Final

import psutil
import urllib3
from kubernetes import client, config, watch

from starcast import artifact
from starcast.operator.models.trainingrun import TrainingRunSpec
from starcast.operator.rayjob import RunIdentity, StorageEnv, build_rayjob
from starcast.up.processes import free_port
from tests.support.kube import parse_exports
from tests.support.models import fitted_model
from tests.support.rayjob_executor import (
    LocalRayJobExecutor,
)

REPO: Final = Path(__file__).resolve().parents[1]
GROUP, VERSION = "starcast.io", "v1alpha1"
REGION: Final = "us-east-1"
BUCKET: Final = "bench"
KEY, SECRET = "bench-key", "bench-secret"
APPLY_THREADS: Final = 16
STARCAST_CRDS: Final = ("trainingruns.starcast.io", "modelreleases.starcast.io")
NAMESPACE: Final = "bench"
# A RayJob's least life on a real cluster: its head and worker pods start, the job is submitted.
JOB_SECONDS: Final = 10.0
WARM_UP: Final = "warm-up"
# The S3 server and the RayJob stand-in take the place of what runs on other machines of a
# cluster: they get the CPU the plane and the operator leave, not a share of it.
STAND_IN_NICENESS: Final = 19
AUDIT_POLICY: Final = Path(__file__).with_name("audit-policy.yaml")


def stamp(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def script(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["bash", *args], capture_output=True, text=True, env=env, check=False, timeout=3600
    )
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@contextmanager
def plane(keep_logs: Path | None) -> Iterator[dict[str, str]]:
    state = tempfile.mkdtemp(prefix="starcast-bench-kube-")
    env = dict(
        os.environ,
        STARCAST_KUBE_DIR=state,
        STARCAST_KUBE_WATCH_PID=str(os.getpid()),
        STARCAST_KUBE_AUDIT_POLICY=str(AUDIT_POLICY),
    )
    exports = parse_exports(script(str(REPO / "hack" / "kube-plane.sh"), "up", env=env))
    bin_dir = exports.pop("PATH")
    try:
        yield (
            dict(os.environ)
            | exports
            | {
                "PATH": f"{bin_dir}:{os.environ['PATH']}",
                "STARCAST_KUBE_DIR": state,
            }
        )
    finally:
        if keep_logs is not None:
            shutil.copytree(Path(state) / "logs", keep_logs, dirs_exist_ok=True)
        script(str(REPO / "hack" / "kube-plane.sh"), "down", env=env)


def kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        sys.exit(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def established(env: dict[str, str], crd: str) -> bool:
    status = json.loads(kubectl(env, "get", "crd", crd, "-o=json")).get("status") or {}
    return any(
        c["type"] == "Established" and c["status"] == "True" for c in status.get("conditions") or ()
    )


@dataclass(frozen=True)
class Created:
    """One create, as the API server's audit log stamped it (epoch seconds)."""

    received: float
    completed: float


def audited_creates(state_dir: str) -> dict[tuple[str, str], dict[str, Created]]:
    """(resource, namespace) -> name -> its successful create, from the plane's audit log."""
    creates: dict[tuple[str, str], dict[str, Created]] = {}
    for line in (Path(state_dir) / "logs" / "audit.log").read_text().splitlines():
        event = json.loads(line)
        ref = event.get("objectRef") or {}
        if event["verb"] != "create" or (event.get("responseStatus") or {}).get("code") != 201:
            continue
        creates.setdefault((ref["resource"], ref["namespace"]), {})[ref["name"]] = Created(
            stamp(event["requestReceivedTimestamp"]), stamp(event["stageTimestamp"])
        )
    return creates


class Watcher:
    """Records, by the wall clock (the audit log's), when each object of a kind is first seen
    (or reaches a phase)."""

    def __init__(
        self,
        lister: Callable[..., Any],
        args: tuple[str, ...],
        done: Callable[[dict[str, Any]], bool],
    ) -> None:
        self.seen: dict[str, float] = {}
        self.uids: dict[str, set[str]] = {}  # a second object of the same name has another uid
        self._lister, self._args, self._done = lister, args, done
        self.error: BaseException | None = None
        self._stopped = False
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # One watch, resumed from the last resourceVersion when the server or the connection ends
        # it: a new one would list every object again and stamp those it missed late.
        try:
            while not self._stopped:
                try:
                    for event in self._watch.stream(  # type: ignore[no-untyped-call]
                        self._lister, *self._args, resource_version=self._watch.resource_version
                    ):
                        obj = event["object"]
                        name = obj["metadata"]["name"]
                        self.uids.setdefault(name, set()).add(obj["metadata"]["uid"])
                        if name not in self.seen and self._done(obj):
                            self.seen[name] = time.time()
                except urllib3.exceptions.ProtocolError:
                    continue
        except BaseException as error:  # reported by stop(): the figures would be wrong
            self.error = error

    def stop(self) -> None:
        self._stopped = True
        self._watch.stop()  # type: ignore[no-untyped-call]
        if self.error is not None:
            sys.exit(f"a watch of the benchmark failed: {self.error!r}")


def spec_for(dataset_uri: str) -> dict[str, Any]:
    return {
        "datasetUri": dataset_uri,
        "outputUri": f"s3://{BUCKET}/models/{{name}}-{{uid}}",
        "families": ["ridge"],
        "budget": "quick",
        "folds": 2,
        "storageSecretRef": {"name": "storage"},
    }


BASELINE_NAMESPACE: Final = "bench-baseline"


def baseline(
    custom: client.CustomObjectsApi, runs: int, dataset_uri: str
) -> tuple[dict[str, float], dict[str, float], float]:
    """Create the RayJobs directly: when each create call started and when the watch saw each
    RayJob, by name, and the seconds all the creates took."""
    ns = BASELINE_NAMESPACE
    spec = TrainingRunSpec.model_validate(spec_for(dataset_uri))
    watcher = Watcher(
        custom.list_namespaced_custom_object, ("ray.io", "v1", ns, "rayjobs"), lambda _: True
    )
    time.sleep(1)
    started: dict[str, float] = {}

    def create(i: int) -> None:
        run = RunIdentity(namespace=ns, name=f"run-{i}", uid=f"baseline-{i}")
        manifest = build_rayjob(
            run, spec, image="trainer:bench", out_uri="s3://x/y", storage=StorageEnv()
        )
        del manifest["metadata"]["ownerReferences"]  # no TrainingRun behind these
        started[manifest["metadata"]["name"]] = time.time()
        custom.create_namespaced_custom_object("ray.io", "v1", ns, "rayjobs", manifest)

    t0 = time.monotonic()
    with ThreadPoolExecutor(APPLY_THREADS) as pool:
        list(pool.map(create, range(runs)))
    created_s = time.monotonic() - t0
    deadline = time.monotonic() + 120
    while len(watcher.seen) < runs and time.monotonic() < deadline:
        time.sleep(0.1)
    watcher.stop()
    return started, watcher.seen, created_s


def delays(starts: dict[str, float], ends: dict[str, float]) -> list[float]:
    return [ends[name] - t for name, t in starts.items() if name in ends]


def api_client(kubeconfig: str, pool: int) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, client_configuration=configuration
    )
    configuration.connection_pool_maxsize = pool
    return client.ApiClient(configuration)


@contextmanager
def s3_server(niceness: int) -> Iterator[tuple[str, int]]:
    """moto's S3 server as a process of its own; yields its endpoint and pid."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    psutil.Process(server.pid).nice(niceness)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("moto's S3 server did not start")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(10)


@dataclass(frozen=True)
class StandIn:
    """How the RayJob stand-in runs: its jobs' length, its CPU priority, KubeRay's pace."""

    job_seconds: float
    niceness: int
    qps: float
    concurrency: int


def serve_rayjobs(
    kubeconfig: str, s3_env: dict[str, str], stand_in: StandIn, stop: ProcessEvent
) -> None:
    """The RayJob stand-in, in a process of its own: every job commits a prepared artifact.

    Each job is Initializing for half of `job_seconds` (its RayCluster starting) and Running for
    the other half; with 0, every job's whole life falls inside the burst of applies.
    """
    job_seconds = stand_in.job_seconds
    os.nice(stand_in.niceness)
    os.environ |= s3_env
    model_bytes, manifest = fitted_model()
    executor = LocalRayJobExecutor(
        api_client(kubeconfig, APPLY_THREADS),
        ray_address="unused",
        cluster_start_s=job_seconds / 2,
        qps=stand_in.qps,
        burst=round(2 * stand_in.qps),  # KubeRay's default burst is twice its qps
        reconcile_concurrency=stand_in.concurrency,
    )

    def commit_model(uri: str) -> None:
        stop.wait(job_seconds / 2)
        artifact.write_artifact(uri, model_bytes, manifest)

    executor.write_artifact_from(commit_model)
    executor.start().serve(NAMESPACE)
    stop.wait()
    executor.stop()


def api_requests(env: dict[str, str]) -> Counter[str]:
    """The API server's request counts so far, by verb and resource (its own /metrics)."""
    counts: Counter[str] = Counter()
    for line in kubectl(env, "get", "--raw", "/metrics").splitlines():
        if line.startswith("apiserver_request_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            key = f"{labels.get('verb')} {labels.get('resource')}"
            if labels.get("subresource"):
                key += f"/{labels['subresource']}"
            counts[key] += int(float(line.rsplit(" ", 1)[1]))
    return counts


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def cpu_by_process(pids: dict[str, int]) -> Counter[str]:
    return Counter({name: cpu_seconds(pid) for name, pid in pids.items()})


def plane_pids(state_dir: str) -> dict[str, int]:
    """The plane's servers (theirs is the command line naming the plane's state directory)."""
    found = {}
    for process in psutil.process_iter(["pid", "name", "cmdline"]):
        if any(state_dir in part for part in process.info["cmdline"] or ()):
            found[process.info["name"]] = process.info["pid"]
    return found


def training_run(name: str, dataset_uri: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TrainingRun",
        "metadata": {"name": name},
        "spec": spec_for(dataset_uri),
    }
