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
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import boto3
from kubernetes import client

from bench._harness import load_average, percentile
from bench._operator_plane import (
    APPLY_THREADS,
    BASELINE_NAMESPACE,
    BUCKET,
    GROUP,
    JOB_SECONDS,
    KEY,
    NAMESPACE,
    REGION,
    REPO,
    SECRET,
    STAND_IN_NICENESS,
    STARCAST_CRDS,
    VERSION,
    WARM_UP,
    Created,
    StandIn,
    Watcher,
    api_client,
    api_requests,
    audited_creates,
    baseline,
    cpu_by_process,
    delays,
    established,
    kubectl,
    plane,
    plane_pids,
    s3_server,
    script,
    serve_rayjobs,
    training_run,
)
from starcast.sample import sample_dataset_uri
from starcast.storage import read_bytes
from tests.support.kuberay import CRDS
from tests.support.operator_process import OperatorProcess, operator_env
from tests.support.rayjob_executor import (
    KUBERAY_QPS,
    KUBERAY_RECONCILE_CONCURRENCY,
)


def upload_dataset(endpoint: str) -> str:
    """The bundled sample in the bench's S3 bucket: the dataset every run names."""
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="repos.parquet", Body=read_bytes(sample_dataset_uri()))
    return f"s3://{BUCKET}/repos.parquet"


def install(env: dict[str, str], kuberay: Path) -> None:
    """The CRDs (starcast's, KubeRay's), the namespaces and the storage Secret the runs name."""
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


def arguments() -> argparse.Namespace:
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
    return parser.parse_args()


def main() -> None:
    args = arguments()
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
        dataset_uri = upload_dataset(endpoint)

        install(env, kuberay)
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
    report(
        args,
        Outcome(
            runs=runs,
            applied=applied,
            apply_calls=apply_calls,
            applied_s=applied_s,
            converged_s=converged_s,
            seen=rayjobs.seen,
            base_started=base_started,
            base_seen=base_seen,
            base_s=base_s,
            audited=audited,
            succeeded=succeeded,
            duplicates=duplicates,
            rss=rss,
            requests=requests,
            cpu=cpu,
        ),
    )


@dataclass(frozen=True)
class Outcome:
    """What a bench run observed, for the report."""

    runs: int
    applied: dict[str, float]  # RayJob name -> when its run's apply call was sent
    apply_calls: list[float]
    applied_s: float
    converged_s: float
    seen: dict[str, float]  # RayJob name -> when the watch saw it
    base_started: dict[str, float]
    base_seen: dict[str, float]
    base_s: float
    audited: dict[tuple[str, str], dict[str, Created]]
    succeeded: int
    duplicates: int
    rss: float
    requests: Counter[str]
    cpu: Counter[str]


def report(args: argparse.Namespace, outcome: Outcome) -> None:
    o = outcome
    runs, applied, audited = o.runs, o.applied, o.audited
    base_started, base_seen = o.base_started, o.base_seen
    errors, duplicates, rss = runs - o.succeeded, o.duplicates, o.rss
    requests, cpu = o.requests, o.cpu
    niceness = 0 if args.no_nice else STAND_IN_NICENESS
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
    watched = delays(applied, o.seen)
    watch_lag = delays(job_done, o.seen)
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
        f"baseline created {runs} RayJobs in {o.base_s:.1f} s; the operator's runs: "
        f"applied {runs} in {o.applied_s:.1f} s ({APPLY_THREADS} threads; create call p50 "
        f"{percentile(o.apply_calls, 50):.3f} s, p99 {percentile(o.apply_calls, 99):.3f} s)"
    )
    print(
        f"converged {o.succeeded}/{runs} in {o.converged_s:.1f} s "
        f"(each job {args.job_seconds:g} s); "
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
        f"converged_s={o.converged_s:.1f} "
        f"errors={errors} duplicates={duplicates} rss_mib={rss:.0f} baseline_p50_s={b50:.3f} "
        f"baseline_p99_s={b99:.3f} ratio_p50={ratio:.1f} "
        f"watch_p50_s={percentile(watched, 50):.3f} watch_p99_s={percentile(watched, 99):.3f} "
        f"baseline_watch_p50_s={percentile(base_watched, 50):.3f} timed={len(latencies)} "
        f"api_requests_per_run={sum(requests.values()) / runs:.1f} "
        f"operator_cpu_ms_per_run={1000 * cpu['operator'] / runs:.0f} stand_in_nice={niceness} "
        f"kuberay_qps={args.kuberay_qps:g} kuberay_concurrency={args.kuberay_concurrency} "
        f"load={load_average():.1f}"
    )


if __name__ == "__main__":
    main()
