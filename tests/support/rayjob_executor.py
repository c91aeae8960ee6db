"""A stand-in for KubeRay's *job execution*: runs a RayJob's entrypoint as a local process.

Ray can't run inside kwok's pods, and KubeRay's controller learns a job's fate by polling the
Ray dashboard in the head pod, which nothing serves here. So, for the namespaces it is given,
`LocalRayJobExecutor` takes KubeRay's place (never beside it) and reproduces what KubeRay v1.5's
RayJob controller does with a K8sJobMode RayJob, on the RayJob's real `/status` subresource:

1. `jobDeploymentStatus: Initializing`, `startTime`, `jobId` (`<name>-xxxxx`) and
   `rayClusterName` (`<name>-xxxxx`), as `initRayJobStatusIfNeed` does;
2. `jobDeploymentStatus: Running`, `jobStatus: RUNNING`, `rayJobInfo.startTime` once the job runs;
3. the entrypoint runs the way the submitter's `ray job submit` runs it on the head: with the head
   container's environment (plain values, and `envFrom` Secrets resolved), the runtime
   environment's `env_vars`, and `RAY_ADDRESS` pointing at a real local Ray;
4. on exit 0: `jobStatus: SUCCEEDED`, `jobDeploymentStatus: Complete`; otherwise `jobStatus:
   FAILED`, `jobDeploymentStatus: Failed`, `reason: AppFailed` and Ray's message ("Job entrypoint
   command failed with exit code N, last available logs ..."), plus `endTime` and
   `rayJobInfo.endTime`, as the controller copies them from the dashboard's job info.

Its API requests go at KubeRay's pace by default, not faster: one RayJob's status write at a
time, as KubeRay reconciles one RayJob at a time (`--reconcile-concurrency 1`), and no more than
its client's rate limit (`--qps 100 --burst 200`, a token bucket like client-go's). The jobs
themselves run side by side, as on their own RayClusters.

`write_artifact_from` makes a job succeed by committing a prepared artifact at the entrypoint's
`--out` instead of training (for the benchmark: the operator's side is what it measures), and
`hold()` keeps jobs RUNNING until released (to kill the operator mid-run).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import random
import shlex
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, cast

import yaml
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException, NotFoundException

logger = logging.getLogger(__name__)

GROUP: Final = "ray.io"
VERSION: Final = "v1"
PLURAL: Final = "rayjobs"
LOG_TAIL_CHARS: Final = 20_000
# Environment of the pytest process that must not leak into a job: it gets the pod's.
HOST_ONLY_ENV: Final = ("AWS_", "RAY_ADDRESS", "STARCAST_")
# KubeRay v1.5's defaults for its API client (apis/config/v1alpha1/defaults.go).
KUBERAY_QPS: Final = 100.0
KUBERAY_BURST: Final = 200
KUBERAY_RECONCILE_CONCURRENCY: Final = 1


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _suffix() -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=5))


ArtifactWriter = Callable[[str], None]


class TokenBucket:
    """client-go's client-side rate limit: `qps` requests a second, up to `burst` at once; a
    request waits for its token, in the order they were asked for."""

    def __init__(
        self,
        qps: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._qps, self._burst = qps, burst
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._qps) - 1
            self._at = now
            delay = -self._tokens / self._qps
        if delay > 0:
            self._sleep(delay)


class LocalRayJobExecutor:
    """Executes the RayJobs of chosen namespaces locally and writes their status as KubeRay."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        ray_address: str,
        log_dir: Path | None = None,
        cluster_start_s: float = 0.0,
        qps: float = KUBERAY_QPS,
        burst: int = KUBERAY_BURST,
        reconcile_concurrency: int = KUBERAY_RECONCILE_CONCURRENCY,
    ) -> None:
        """`cluster_start_s`: how long a job stays Initializing, as while its RayCluster's pods
        start (KubeRay's jobs take at least seconds there; 0 goes straight on). `qps` and
        `burst`: the rate limit of its API requests (KubeRay's `--qps` and `--burst`);
        `reconcile_concurrency`: status writes at once (its `--reconcile-concurrency`)."""
        self._rate = TokenBucket(qps, burst)
        self._reconciling = threading.BoundedSemaphore(reconcile_concurrency)
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._ray_address = ray_address
        self._cluster_start_s = cluster_start_s
        self._log_dir = log_dir or Path(tempfile.mkdtemp(prefix="rayjob-logs-"))
        self._lock = threading.Lock()
        self._namespaces: set[str] = set()
        self._claimed: set[str] = set()  # RayJob uids
        self._procs: list[subprocess.Popen[bytes]] = []
        self._held = threading.Event()
        self._held.set()
        self._stop = threading.Event()
        self._artifact_writer: ArtifactWriter | None = None
        self._thread = threading.Thread(target=self._watch_forever, daemon=True)
        self.started_jobs: list[str] = []

    # ------------------------------------------------------------------ control

    def start(self) -> LocalRayJobExecutor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._held.set()
        with self._lock:
            for proc in self._procs:
                if proc.poll() is None:
                    proc.kill()

    def serve(self, namespace: str) -> None:
        """Execute this namespace's RayJobs (KubeRay's real controller may own the others)."""
        with self._lock:
            self._namespaces.add(namespace)
        try:
            listed = cast(
                "dict[str, Any]",
                self._custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL),
            )
        except ApiException as error:
            if error.status == 404:  # KubeRay's CRD is not installed (yet): nothing to take
                return
            raise
        for job in listed["items"]:
            self._consider(job)

    def write_artifact_from(self, writer: ArtifactWriter | None) -> None:
        """Succeed jobs by `writer(out_uri)` instead of running the entrypoint (None: run it)."""
        self._artifact_writer = writer

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Jobs stay RUNNING inside this block and finish after it."""
        self._held.clear()
        try:
            yield
        finally:
            self._held.set()

    # ------------------------------------------------------------------ watching

    def _watch_forever(self) -> None:
        while not self._stop.is_set():
            try:
                stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                    self._custom.list_cluster_custom_object,
                    GROUP,
                    VERSION,
                    PLURAL,
                    timeout_seconds=30,
                )
                for event in stream:
                    if self._stop.is_set():
                        return
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._consider(event["object"])
            except ApiException as error:
                if error.status != 404:  # the CRD can be absent for a while: wait for it
                    logger.warning("watch of RayJobs failed: %s", error)
                self._stop.wait(1.0)
            except Exception:
                logger.exception("watch of RayJobs failed")
                self._stop.wait(1.0)

    def _consider(self, job: dict[str, Any]) -> None:
        meta = job["metadata"]
        with self._lock:
            if meta["namespace"] not in self._namespaces or meta["uid"] in self._claimed:
                return
            if (job.get("status") or {}).get("jobDeploymentStatus"):
                return  # someone (a previous executor, KubeRay) already took it
            self._claimed.add(meta["uid"])
        threading.Thread(target=self._execute, args=(job,), daemon=True).start()

    # ------------------------------------------------------------------ executing

    def _patch_status(self, job: dict[str, Any], status: dict[str, Any]) -> None:
        meta = job["metadata"]
        with self._reconciling:
            self._rate.wait()
            self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], {"status": status}
            )

    def _pod_env(self, job: dict[str, Any]) -> dict[str, str]:
        """The head container's environment, Secrets resolved, plus the runtime env's env_vars."""
        namespace = job["metadata"]["namespace"]
        spec = job["spec"]
        head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
        env: dict[str, str] = {}
        for source in head.get("envFrom", ()):
            self._rate.wait()
            secret = self._core.read_namespaced_secret(source["secretRef"]["name"], namespace)
            for key, value in (secret.data or {}).items():
                env[key] = base64.b64decode(value).decode()
        env.update({item["name"]: item["value"] for item in head.get("env", ()) if "value" in item})
        runtime_env = yaml.safe_load(spec.get("runtimeEnvYAML") or "{}") or {}
        env.update({k: str(v) for k, v in runtime_env.get("env_vars", {}).items()})
        return env

    def _execute(self, job: dict[str, Any]) -> None:
        name = job["metadata"]["name"]
        try:
            self._run(job)
        except ApiException as error:
            if error.status == 404:  # the RayJob (or its namespace) went away mid-run
                return
            raise
        except Exception as error:
            logger.exception("executing RayJob %s failed", name)
            with contextlib.suppress(NotFoundException):  # gone: no status to report it in
                self._patch_status(
                    job,
                    {
                        "jobStatus": "FAILED",
                        "jobDeploymentStatus": "Failed",
                        "reason": "SubmissionFailed",
                        "message": f"the local executor could not run the job: {error}",
                        "endTime": _now(),
                    },
                )

    def _run(self, job: dict[str, Any]) -> None:
        name = job["metadata"]["name"]
        self.started_jobs.append(f"{job['metadata']['namespace']}/{name}")
        self._patch_status(
            job,
            {
                "jobDeploymentStatus": "Initializing",
                "startTime": _now(),
                "jobId": f"{name}-{_suffix()}",
                "rayClusterName": f"{name}-{_suffix()}",
            },
        )
        self._stop.wait(self._cluster_start_s)
        self._patch_status(
            job,
            {
                "jobDeploymentStatus": "Running",
                "jobStatus": "RUNNING",
                "rayJobInfo": {"startTime": _now()},
            },
        )
        argv = shlex.split(job["spec"]["entrypoint"])
        writer = self._artifact_writer  # the mode the job started in, whatever a test sets later
        if writer is not None:
            self._held.wait()
            writer(argv[argv.index("--out") + 1])
            code, tail = 0, ""
        else:
            code, tail = self._run_entrypoint(job, argv)
            self._held.wait()
        end = _now()
        if code == 0:
            status = {"jobStatus": "SUCCEEDED", "jobDeploymentStatus": "Complete", "message": ""}
        else:
            status = {
                "jobStatus": "FAILED",
                "jobDeploymentStatus": "Failed",
                "reason": "AppFailed",
                "message": f"Job entrypoint command failed with exit code {code}, last "
                f"available logs (truncated to {LOG_TAIL_CHARS:,} chars):\n{tail}",
            }
        self._patch_status(job, {**status, "endTime": end, "rayJobInfo": {"endTime": end}})

    def _run_entrypoint(self, job: dict[str, Any], argv: list[str]) -> tuple[int, str]:
        if argv[0] == "python":  # the trainer image's python is this environment's
            argv[0] = sys.executable
        env = {k: v for k, v in os.environ.items() if not k.startswith(HOST_ONLY_ENV)}
        env |= self._pod_env(job)
        env["RAY_ADDRESS"] = self._ray_address
        log_path = self._log_dir / f"{job['metadata']['namespace']}-{job['metadata']['name']}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
            with self._lock:
                self._procs.append(proc)
            code = proc.wait()
        return code, log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
