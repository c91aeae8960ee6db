"""Benchmark: N TrainingRuns applied at once, on the local plane, against the API server's floor.

The operator under test is the real one (`starcast operator run`); the RayJobs' execution is the
tests' stand-in (tests/support/rayjob_executor.py) committing a prepared artifact, so what is
measured is the operator: TrainingRun applied -> RayJob created, and -> status Succeeded with the
model's digest. Baseline, in the same run: the same N RayJobs created directly by a client, the
API server's own floor.

Each latency is taken twice. By the API server's audit log (bench/audit-policy.yaml), stamped to
the microsecond by the API server itself: apply = the TrainingRun's create request received,
RayJob created = its create response complete (the baseline: a RayJob's create request received
-> complete). And as a client sees it: the apply call sent -> the RayJob seen by a watch (the
baseline: the create call sent -> seen). The difference is the API server's watch delivery,
which on a saturated machine lags for every watcher alike.

Each stand-in job takes `--job-seconds` (default 10: about the least a RayJob lives, its pods
starting included), so the jobs' status changes come after their creation as on a cluster;
`--job-seconds 0` is the harsher case where every job's whole life falls inside the burst.
The stand-in writes RayJob statuses at KubeRay's pace (one at a time, at most 100 requests a
second, KubeRay's defaults): the API server's work for a burst is what KubeRay would give it.
The S3 server and the RayJob stand-in run as processes of their own, so this process does
nothing but apply and take the times (a busy interpreter would stamp events late), at the
lowest CPU priority: on a cluster they run on other machines, and here they take only the CPU
the plane and the operator leave (`--no-nice` shares it evenly). One warm-up
run goes through the operator first: what is timed is a running operator, not its start.

    python -m bench.operator --quick     # 100 runs
    python -m bench.operator             # 1,000 runs

Goal: p50 under 1 s, p99 under 5 s, no error, no duplicate RayJob, operator RSS under 300 MiB.
Last line: `operator: runs=... p50_s=... p99_s=... errors=... duplicates=... rss_mib=...
baseline_p50_s=... watch_p50_s=... watch_p99_s=...` (p50_s and p99_s by the audit log).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any, Final, cast

import boto3
import psutil
import urllib3
from kubernetes import client, config, watch

from starcast import artifact
from starcast.operator.models.trainingrun import TrainingRunSpec
from starcast.operator.rayjob import RunIdentity, StorageEnv, build_rayjob
from starcast.sample import sample_dataset_uri
from starcast.storage import read_bytes
from starcast.up.processes import free_port
from tests.support.kube import parse_exports
from tests.support.kuberay import CRDS
from tests.support.models import fitted_model
from tests.support.operator_process import OperatorProcess, operator_env
from tests.support.rayjob_executor import (
    KUBERAY_QPS,
    KUBERAY_RECONCILE_CONCURRENCY,
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


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 runs instead of 1,000")
    parser.add_argument("--runs", type=int, help="override the number of runs")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to converge")
    parser.add_argument("--operator-log", type=Path, help="keep the operator's log here")
    parser.add_argument(
        "--plane-logs", type=Path, help="keep the plane's logs (its audit log too) in this dir"
    )
    parser.add_argument("--workers", type=int, help="the operator's handler threads")
    parser.add_argument(
        "--job-seconds",
        type=float,
        default=JOB_SECONDS,
        help="how long each stand-in job takes, cluster start included (0: no time at all)",
    )
    parser.add_argument(
        "--no-nice",
        action="store_true",
        help="run the S3 server and the RayJob stand-in at the plane's CPU priority",
    )
    parser.add_argument(
        "--kuberay-qps",
        type=float,
        default=KUBERAY_QPS,
        help="the stand-in's API requests a second (KubeRay's --qps; its burst is twice that)",
    )
    parser.add_argument(
        "--kuberay-concurrency",
        type=int,
        default=KUBERAY_RECONCILE_CONCURRENCY,
        help="the stand-in's status writes at once (KubeRay's --reconcile-concurrency)",
    )
    args = parser.parse_args()
    niceness = 0 if args.no_nice else STAND_IN_NICENESS
    stand_in = StandIn(args.job_seconds, niceness, args.kuberay_qps, args.kuberay_concurrency)
    runs = args.runs or (100 if args.quick else 1000)

    kuberay = Path(script(str(REPO / "hack" / "kube-addons.sh"), "build", "kuberay").split()[-1])
    with ExitStack() as cleanup:
        endpoint, s3_pid = cleanup.enter_context(s3_server(niceness))
        env = cleanup.enter_context(plane(args.plane_logs))
        tmp = cleanup.enter_context(tempfile.TemporaryDirectory())
        s3_env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": REGION,
        }
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="repos.parquet", Body=read_bytes(sample_dataset_uri()))
        dataset_uri = f"s3://{BUCKET}/repos.parquet"

        kubectl(env, "apply", "--server-side", "-f", str(REPO / "charts/starcast-operator/crds"))
        for name in CRDS:
            kubectl(env, "create", "-f", str(kuberay / "config/crd/bases" / name))
        for crd in (*STARCAST_CRDS, "rayjobs.ray.io", "rayclusters.ray.io"):
            while not established(env, crd):  # kubectl wait fails on a CRD with no status yet
                time.sleep(0.2)
        for ns in (NAMESPACE, BASELINE_NAMESPACE):
            kubectl(env, "create", "namespace", ns)
        kubectl(
            env, "create", "secret", "generic", "storage", "-n", NAMESPACE,
            f"--from-literal=AWS_ACCESS_KEY_ID={KEY}",
            f"--from-literal=AWS_SECRET_ACCESS_KEY={SECRET}",
        )  # fmt: skip
        custom = client.CustomObjectsApi(api_client(env["KUBECONFIG"], APPLY_THREADS * 2))

        base_started, base_seen, base_s = baseline(custom, runs, dataset_uri)

        stop_executor = multiprocessing.get_context("spawn").Event()
        executor = multiprocessing.get_context("spawn").Process(
            target=serve_rayjobs,
            args=(env["KUBECONFIG"], s3_env, stand_in, stop_executor),
            daemon=True,
        )
        executor.start()
        cleanup.callback(executor.join, 30)
        cleanup.callback(stop_executor.set)
        operator = OperatorProcess(
            operator_env(
                env,
                storage_endpoint=endpoint,
                storage_region=REGION,
                **({"workers": str(args.workers)} if args.workers else {}),
            ),
            args.operator_log or Path(tmp) / "operator.log",
            "--standalone",
            "--namespace",
            NAMESPACE,
        )
        cleanup.callback(operator.stop)  # on any exit: a leftover would skew the next run
        operator.start()
        rayjobs = Watcher(
            custom.list_namespaced_custom_object,
            ("ray.io", "v1", NAMESPACE, "rayjobs"),
            lambda _: True,
        )
        terminal = Watcher(
            custom.list_namespaced_custom_object,
            (GROUP, VERSION, NAMESPACE, "trainingruns"),
            lambda obj: (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"),
        )
        custom.create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, "trainingruns", training_run(WARM_UP, dataset_uri)
        )
        deadline = time.monotonic() + 120
        while WARM_UP not in terminal.seen:
            if time.monotonic() > deadline:
                sys.exit(f"the warm-up run did not converge:\n{operator.log_tail()}")
            time.sleep(0.1)
        applied: dict[str, float] = {}
        apply_calls: list[float] = []

        def apply(i: int) -> None:
            name = f"run-{i}"
            started = time.time()
            custom.create_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, "trainingruns", training_run(name, dataset_uri)
            )
            applied[f"tr-{name}"] = started
            apply_calls.append(time.time() - started)

        pids = plane_pids(env["STARCAST_KUBE_DIR"]) | {
            "operator": operator.pid,
            "RayJob stand-in": cast("int", executor.pid),
            "this bench": os.getpid(),
            "S3 server": s3_pid,
        }
        requests_before, cpu_before = api_requests(env), cpu_by_process(pids)
        t0 = time.monotonic()
        with ThreadPoolExecutor(APPLY_THREADS) as pool:
            list(pool.map(apply, range(runs)))
        applied_s = time.monotonic() - t0
        deadline = t0 + args.timeout
        while len(terminal.seen) < runs + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        converged_s = time.monotonic() - t0
        cpu = cpu_by_process(pids)
        cpu.subtract(cpu_before)
        operator_cpu_s = cpu["operator"]
        requests = api_requests(env) - requests_before
        rayjobs.stop()
        terminal.stop()
        rss = operator.peak_rss_mib()
        operator.stop()

        listed: dict[str, Any] = cast(
            "dict[str, Any]",
            custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "trainingruns"),
        )
        succeeded = sum(
            (tr.get("status") or {}).get("phase") == "Succeeded"
            for tr in listed["items"]
            if tr["metadata"]["name"] != WARM_UP
        )
        all_jobs: list[dict[str, Any]] = cast(
            "dict[str, Any]",
            custom.list_namespaced_custom_object("ray.io", "v1", NAMESPACE, "rayjobs"),
        )["items"]
        duplicates = len(all_jobs) - len(
            {j["metadata"]["labels"]["starcast.io/training-run"] for j in all_jobs}
        )
        duplicates += sum(len(uids) - 1 for uids in rayjobs.uids.values())
        audited = audited_creates(env["STARCAST_KUBE_DIR"])
        errors = runs - succeeded

    # By the API server's clock: apply (the run's create received) -> the RayJob's create done.
    # Keyed by RayJob name, the timed runs only (not the warm-up).
    jobs = audited.get(("rayjobs", NAMESPACE), {})
    runs_created = audited.get(("trainingruns", NAMESPACE), {})
    job_done = {job: jobs[job].completed for job in applied if job in jobs}
    run_received = {
        job: runs_created[run].received
        for job in applied
        if (run := job.removeprefix("tr-")) in runs_created
    }
    latencies = delays(run_received, job_done)
    watched = delays(applied, rayjobs.seen)
    watch_lag = delays(job_done, rayjobs.seen)
    base_jobs = audited.get(("rayjobs", BASELINE_NAMESPACE), {})
    base = [c.completed - c.received for c in base_jobs.values()]
    base_watched = delays(base_started, base_seen)
    base_watch_lag = delays({job: c.completed for job, c in base_jobs.items()}, base_seen)

    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    b50, b99 = percentile(base, 50), percentile(base, 99)
    print(f"{'path':<58}{'n':>6}{'p50 s':>9}{'p99 s':>9}{'max s':>9}")
    for label, values in (
        ("baseline: RayJob create received -> done (API server)", base),
        ("operator: run's create received -> RayJob's done (API server)", latencies),
        ("baseline: create call -> RayJob seen by a watch", base_watched),
        ("operator: apply call -> RayJob seen by a watch", watched),
        ("baseline: watch delivery (RayJob created -> seen)", base_watch_lag),
        ("operator: watch delivery (RayJob created -> seen)", watch_lag),
    ):
        print(
            f"{label:<58}{len(values):>6}{percentile(values, 50):>9.3f}"
            f"{percentile(values, 99):>9.3f}{max(values, default=0):>9.3f}"
        )
    print(
        f"baseline created {runs} RayJobs in {base_s:.1f} s; the operator's runs: "
        f"applied {runs} in {applied_s:.1f} s ({APPLY_THREADS} threads; create call p50 "
        f"{percentile(apply_calls, 50):.3f} s, p99 {percentile(apply_calls, 99):.3f} s)"
    )
    print(
        f"converged {succeeded}/{runs} in {converged_s:.1f} s (each job {args.job_seconds:g} s); "
        f"errors {errors}; duplicates "
        f"{duplicates}; operator peak RSS {rss:.0f} MiB; mean apply->RayJob "
        f"{statistics.fmean(latencies) if latencies else float('nan'):.3f} s (API server)"
    )
    print("API requests per run while the runs converged (everyone's: operator, stand-in, bench):")
    for key, count in requests.most_common(12):
        print(f"  {count / runs:6.2f}  {key}")
    print("CPU ms per run while the runs converged:")
    for name, seconds in cpu.most_common():
        print(f"  {1000 * seconds / runs:6.1f}  {name}")
    timed = len(latencies) == runs  # every run's RayJob found in the audit log
    met = timed and p50 < 1 and p99 < 5 and errors == 0 and duplicates == 0 and rss < 300
    goal = "p50 < 1 s, p99 < 5 s, no error or duplicate, RSS < 300 MiB"
    print(f"goal ({goal}): {'met' if met else 'NOT met'}")
    ratio = p50 / b50 if b50 else float("inf")
    print(
        f"operator: runs={runs} job_s={args.job_seconds:g} p50_s={p50:.3f} p99_s={p99:.3f} "
        f"converged_s={converged_s:.1f} "
        f"errors={errors} duplicates={duplicates} rss_mib={rss:.0f} baseline_p50_s={b50:.3f} "
        f"baseline_p99_s={b99:.3f} ratio_p50={ratio:.1f} "
        f"watch_p50_s={percentile(watched, 50):.3f} watch_p99_s={percentile(watched, 99):.3f} "
        f"baseline_watch_p50_s={percentile(base_watched, 50):.3f} timed={len(latencies)} "
        f"api_requests_per_run={sum(requests.values()) / runs:.1f} "
        f"operator_cpu_ms_per_run={1000 * operator_cpu_s / runs:.0f} stand_in_nice={niceness} "
        f"kuberay_qps={args.kuberay_qps:g} kuberay_concurrency={args.kuberay_concurrency} "
        f"load={os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
