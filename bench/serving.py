"""Serving throughput and latency: starcast as built against the original design, same run.

Ways to answer single-repository prediction requests, on the same model and machine:
  starcast                  `starcast up`: the FastAPI frontend micro-batches concurrent requests
                            into Celery tasks over a private RabbitMQ (transient messages); the
                            workers predict each batch in one call of the compiled model.
  seed                      the original design: a Flask app sending one Celery task per request
                            from a default Celery app (persistent messages), rpc:// results,
                            waiting on `.get()`; the worker predicts with the scikit-learn Pipeline.
Ablations, to show where the difference comes from:
  seed-compiled             the seed, its worker predicting with starcast's compiled model.
  seed-compiled-transient   that, with transient messages: starcast's delivery mode.
  starcast-nobatch          starcast with batching off: one request per task, each sent at once.
And the ceiling, the best a single process can do:
  ceiling                   the same compiled model in one process behind the same FastAPI stack
                            (starcast's request/response models and middleware, uvicorn), no
                            queue; plus in-process `predict` on one row at a time as a reference.
Every system gets the same closed-loop HTTP load: C connections, each sending its next request as
soon as the last one is answered (keep-alive where the server allows it), from a lean asyncio
client in this process. All are up at once and rounds alternate between them (starcast, the
ablations, seed, ceiling, starcast, ...; 3 rounds, 1 with --quick), so other load on the machine
hits each alike; the load average is printed. BLAS/OpenMP threads are limited to one per process
everywhere; the seed's Flask app runs on a fixed thread pool (see run_seed_frontend), which is
kinder to it than Flask's thread-per-connection server.

    python -m bench.serving [--quick] [--concurrency 16 64]

Last line: `serving: concurrency=... starcast_rps=... seed_rps=... speedup=... starcast_p99_ms=...
seed_p50_ms=...` at the concurrency where starcast's speedup over the seed is lowest, then at the
highest concurrency (64): `speedup_64=... ceiling_rps=... ceiling_ratio=... (starcast over the
ceiling) ceiling_p99_ms=... starcast_p99_64_ms=...`, the ablations' req/s and the load average.
Goals: speedup >= 10 at 16 and 64 with starcast's p99 under the seed's p50; at 64,
ceiling_ratio >= 0.5 and starcast's p99 <= 2x the ceiling's.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from bench._harness import load_average, percentile
from bench._serving_systems import (
    SYSTEMS,
    SYSTEMS_BY_NAME,
    one_row_frame,
    run_ceiling,
    run_seed_frontend,
    run_seed_worker,
)
from starcast import artifact
from starcast.artifact import DatasetInfo, FamilyResult, Metrics
from starcast.dataset import read_dataset
from starcast.features import feature_names
from starcast.sample import sample_dataset_uri
from starcast.serving.lookup import rows_from_frame
from starcast.serving.schemas import RepositoryFeatures
from starcast.training.pipeline import build_pipeline
from starcast.up.processes import ManagedProcess, free_port, starcast_command, wait_until
from starcast.up.rabbitmq import RabbitMQServer

REQUEST_POOL: Final = 500  # distinct repositories the requests cycle through
ONE_THREAD: Final = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Measurement:
    system: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: np.ndarray

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms.tolist(), q) if len(self.latencies_ms) else 0.0


class ClosedLoopLoad:
    """C keep-alive connections; each sends its next request when the previous is answered."""

    def __init__(self, port: int, bodies: Sequence[bytes]) -> None:
        self.port = port
        self.requests = [
            (
                b"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            for body in bodies
        ]

    async def run(self, concurrency: int, warmup_s: float, measure_s: float) -> tuple[Any, ...]:
        latencies: list[float] = []
        errors = [0]
        start = time.perf_counter()
        measure_from = start + warmup_s
        stop_at = measure_from + measure_s
        requests = itertools.cycle(self.requests)

        async def connection() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                while (sent := time.perf_counter()) < stop_at:
                    writer.write(next(requests))
                    status, close = await _read_response(reader)
                    done = time.perf_counter()
                    if sent >= measure_from and done <= stop_at:
                        if status == 200:
                            latencies.append((done - sent) * 1000)
                        else:
                            errors[0] += 1
                    if close:
                        writer.close()
                        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            finally:
                writer.close()

        await asyncio.gather(*(connection() for _ in range(concurrency)))
        return np.array(latencies), errors[0]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close = 0, lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    await reader.readexactly(length)
    return status, close


def measure(
    system: str, port: int, bodies: Sequence[bytes], concurrency: int, warmup: float, seconds: float
) -> Measurement:
    load = ClosedLoopLoad(port, bodies)
    runner_factory: Callable[[], asyncio.AbstractEventLoop]
    try:
        import uvloop

        runner_factory = uvloop.new_event_loop
    except ImportError:
        runner_factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=runner_factory) as runner:
        latencies, errors = runner.run(load.run(concurrency, warmup, seconds))
    result = Measurement(system, concurrency, len(latencies), errors, seconds, latencies)
    print(
        f"{system} c={concurrency}: {result.rps:.1f} req/s, p50 {result.percentile(50):.1f} ms, "
        f"p99 {result.percentile(99):.1f} ms, {errors} errors",
        flush=True,
    )
    return result


# -- setup --------------------------------------------------------------------------------------


def fit_model(directory: Path) -> str:
    """The quick budget's usual winner (HistGradientBoosting) on the sample, as an artifact."""
    dataset = read_dataset(sample_dataset_uri())
    names = [
        n
        for n in feature_names(include_leaky=False)
        if n not in dataset.report.unavailable_features
    ]
    regressor = HistGradientBoostingRegressor(max_iter=100, max_leaf_nodes=15, random_state=0)
    model = build_pipeline(names, regressor).fit(dataset.features[names], np.log1p(dataset.stars))
    model_bytes = artifact.serialize_model(model)
    placeholder = Metrics(rmsle=0.0, r2_log=0.0, mae_log=0.0, mdape=0.0)
    result = FamilyResult(family="hist_gradient_boosting", params={}, metrics=placeholder)
    manifest = artifact.new_manifest(
        model_bytes,
        feature_names=names,
        cv_folds=1,
        winner=result,
        families=[result],
        baseline=placeholder,
        dataset=DatasetInfo(uri=dataset.uri, sha256=dataset.sha256, rows=len(dataset.records)),
    )
    artifact.write_artifact(directory.as_uri(), model_bytes, manifest)
    return directory.as_uri()


def request_bodies() -> list[bytes]:
    records = read_dataset(sample_dataset_uri()).records.sample(REQUEST_POOL, random_state=0)
    rows = rows_from_frame(records)
    return [
        json.dumps(
            {
                "repositories": [
                    {
                        "full_name": str(name),
                        "features": RepositoryFeatures.from_row(row).model_dump(exclude_none=True),
                    }
                ]
            }
        ).encode()
        for name, row in zip(records["full_name"], rows, strict=True)
    ]


def wait_http(url: str, processes: Sequence[ManagedProcess], timeout_s: float = 240) -> None:
    def answering() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return True
        except urllib.error.HTTPError as error:
            return error.code < 500  # a 503 from /readyz means not ready yet
        except OSError:
            return False

    wait_until(answering, f"answer from {url}", processes, timeout_s=timeout_s, poll_s=0.5)


def combine(runs: Sequence[Measurement]) -> Measurement:
    first = runs[0]
    return Measurement(
        first.system,
        first.concurrency,
        sum(run.requests for run in runs),
        sum(run.errors for run in runs),
        sum(run.seconds for run in runs),
        np.concatenate([run.latencies_ms for run in runs]),
    )


def wait_answer(port: int, body: bytes, processes: Sequence[ManagedProcess]) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/predict",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    for _ in range(60):
        try:
            with urllib.request.urlopen(request, timeout=60):
                return
        except OSError:
            if not all(process.alive for process in processes):
                raise RuntimeError("the seed stopped:\n" + processes[0].log_tail()) from None
            time.sleep(1)
    raise RuntimeError("the seed never answered a prediction")


def in_process(model_uri: str, bodies: Sequence[bytes], seconds: float) -> Measurement:
    model = artifact.load_artifact(model_uri)
    frames = [
        one_row_frame(json.loads(body)["repositories"][0]["features"]) for body in bodies[:100]
    ]
    latencies = []
    with threadpool_limits(limits=1):
        stop_at = time.perf_counter() + seconds
        for frame in itertools.cycle(frames):
            started = time.perf_counter()
            if started >= stop_at:
                break
            model.predict_stars(frame)
            latencies.append((time.perf_counter() - started) * 1000)
    return Measurement("in-process", 1, len(latencies), 0, seconds, np.array(latencies))


BREAKDOWN: Final = {  # histogram of the frontend's /metrics -> how the breakdown names it
    "starcast_batch_rows": "rows/batch",
    "starcast_batch_requests": "requests/batch",
    "starcast_batch_round_trip_seconds": "round trip",
    "starcast_queue_wait_seconds": "queue wait",
    "starcast_worker_predict_seconds": "predict",
}


def histogram_totals(port: int) -> dict[str, tuple[float, float]]:
    """(sum, count) of each BREAKDOWN histogram of starcast's frontend, now."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("starcast_") and " " in line
    }
    return {
        name: (samples.get(f"{name}_sum", 0.0), samples.get(f"{name}_count", 0.0))
        for name in BREAKDOWN
    }


def breakdown(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]) -> str:
    """Mean of each histogram between two snapshots: where a batch's time went."""
    parts = []
    for name, label in BREAKDOWN.items():
        total = after[name][0] - before[name][0]
        count = after[name][1] - before[name][1]
        mean = total / count if count else 0.0
        parts.append(f"{label} {mean * 1000:.1f} ms" if name.endswith("_seconds") else
                     f"{label} {mean:.1f}")  # fmt: skip
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a few minutes)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, default=None, help="starcast workers (up default)")
    parser.add_argument(
        "--role", choices=["seed-worker", "seed-frontend", "ceiling"], help=argparse.SUPPRESS
    )
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "seed-worker":
        run_seed_worker()
        return
    if args.role == "seed-frontend":
        run_seed_frontend(args.port)
        return
    if args.role == "ceiling":
        run_ceiling(args.port)
        return

    warmup, seconds, rounds = (2.0, 5.0, 1) if args.quick else (3.0, 10.0, 3)
    results: list[Measurement] = []
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="starcast-bench-") as scratch:
        base = Path(scratch)
        broker = RabbitMQServer(base / "rabbitmq", node_name="starcast-bench")
        # `starcast up` names its workers by index and host, so a second one needs its own node.
        nobatch_broker = RabbitMQServer(base / "rabbitmq-nobatch", node_name="starcast-bench-nb")
        broker.start()
        nobatch_broker.start()
        processes: list[ManagedProcess] = []
        try:
            model_uri = fit_model(base / "model")
            bodies = request_bodies()
            results.append(in_process(model_uri, bodies, seconds / 2))
            environment = {**os.environ, **ONE_THREAD}
            script = [sys.executable, "-m", "bench.serving"]
            ports: dict[str, int] = {}
            groups: dict[str, list[ManagedProcess]] = {}
            for name, node, extra_env in (
                ("starcast", broker, {}),
                # One request per task, each published at once, as the seed publishes them.
                (
                    "starcast-nobatch",
                    nobatch_broker,
                    {"STARCAST_MAX_BATCH_ROWS": "1", "STARCAST_MAX_BATCHES_IN_FLIGHT": "1000"},
                ),
            ):
                ports[name] = free_port()
                up_args = ["up", "--model", model_uri, "--port", str(ports[name])]
                up_args += ["--state-dir", str(base / name)]
                up_args += ["--workers", str(args.workers)] if args.workers else []
                env = {**environment, "STARCAST_BROKER_URL": node.url}
                groups[name] = [
                    ManagedProcess(
                        f"{name} up", starcast_command(*up_args), env | extra_env,
                        base / f"{name}.log",
                    )
                ]  # fmt: skip
            seed_env = {**environment, "SEED_BROKER_URL": broker.url, "SEED_MODEL_URI": model_uri}
            for name, predictor, delivery in (
                ("seed", "pipeline", "persistent"),
                ("seed-compiled", "compiled", "persistent"),
                ("seed-compiled-transient", "compiled", "transient"),
            ):
                ports[name] = free_port()
                env = seed_env | {
                    "SEED_QUEUE": name, "SEED_PREDICTOR": predictor, "SEED_DELIVERY": delivery
                }  # fmt: skip
                groups[name] = [
                    ManagedProcess(f"{name} worker", [*script, "--role", "seed-worker"], env,
                                   base / f"{name}-worker.log"),
                    ManagedProcess(f"{name} frontend",
                                   [*script, "--role", "seed-frontend", "--port", str(ports[name])],
                                   env, base / f"{name}-frontend.log"),
                ]  # fmt: skip
            ports["ceiling"] = free_port()
            groups["ceiling"] = [
                ManagedProcess("ceiling", [*script, "--role", "ceiling", "--port",
                               str(ports["ceiling"])], seed_env, base / "ceiling.log")
            ]  # fmt: skip
            processes = [process for group in groups.values() for process in group]
            for process in processes:
                process.start()
            for name in ("starcast", "starcast-nobatch"):
                wait_http(f"http://127.0.0.1:{ports[name]}/readyz", groups[name])
                while "Ctrl-C stops" not in groups[name][0].log_tail(3):
                    time.sleep(0.2)
            for name in ("seed", "seed-compiled", "seed-compiled-transient", "ceiling"):
                wait_http(f"http://127.0.0.1:{ports[name]}/", groups[name])
                wait_answer(ports[name], bodies[0], groups[name])  # the worker is consuming
            # Every system is up at once and the rounds alternate between them, so a change in
            # what else runs on the machine hits each alike.
            for concurrency in args.concurrency:
                before = histogram_totals(ports["starcast"])
                runs: dict[str, list[Measurement]] = {system.name: [] for system in SYSTEMS}
                for _ in range(rounds):
                    loads.append(load_average())
                    for system in SYSTEMS:
                        runs[system.name].append(
                            measure(system.name, ports[system.name], bodies, concurrency,
                                    warmup, seconds)
                        )  # fmt: skip
                after = histogram_totals(ports["starcast"])
                print(f"  starcast batches: {breakdown(before, after)}")
                results.extend(combine(system_runs) for system_runs in runs.values())
        finally:
            for process in processes:
                process.stop(60)
            broker.close()
            nobatch_broker.close()

    report(results, loads)


def report(results: Sequence[Measurement], loads: Sequence[float]) -> None:
    print(f"load average (1 min) over the rounds: {min(loads):.1f}-{max(loads):.1f}")
    for each in SYSTEMS:
        print(f"  {each.name}: {each.design}")
    print(
        f"{'system':<25}{'predictor':>10}{'delivery':>11}{'conc':>6}{'req/s':>10}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'errors':>8}"
    )
    for m in results:
        system = SYSTEMS_BY_NAME.get(m.system)
        predictor, delivery = (system.predictor, system.delivery) if system else ("pipeline", "-")
        print(
            f"{m.system:<25}{predictor:>10}{delivery:>11}{m.concurrency:>6}{m.rps:>10.1f}"
            f"{m.percentile(50):>9.2f}{m.percentile(99):>9.2f}{m.errors:>8}"
        )
    by_key = {(m.system, m.concurrency): m for m in results}
    concurrencies = sorted({m.concurrency for m in results if m.system == "starcast"})
    rows = []
    for concurrency in concurrencies:
        ours, seed = by_key[("starcast", concurrency)], by_key[("seed", concurrency)]
        speedup = ours.rps / seed.rps if seed.rps else float("inf")
        met = speedup >= 10 and ours.percentile(99) < seed.percentile(50)
        print(
            f"concurrency {concurrency}: speedup {speedup:.1f}x over the seed, starcast p99 "
            f"{ours.percentile(99):.1f} ms vs seed p50 {seed.percentile(50):.1f} ms: "
            f"goal {'met' if met else 'NOT met'}"
        )
        for name in ("seed-compiled", "seed-compiled-transient", "starcast-nobatch"):
            other = by_key[(name, concurrency)]
            print(f"  {name}: {other.rps:.1f} req/s; starcast is {ours.rps / other.rps:.1f}x")
        rows.append((speedup, concurrency, ours, seed))
    top = concurrencies[-1]  # 64 in the default run
    ours, ceiling = by_key[("starcast", top)], by_key[("ceiling", top)]
    ceiling_ratio = ours.rps / ceiling.rps
    met = ceiling_ratio >= 0.5 and ours.percentile(99) <= 2 * ceiling.percentile(99)
    print(
        f"concurrency {top}: starcast {ceiling_ratio:.2f}x the single-process ceiling "
        f"({ceiling.rps:.1f} req/s), p99 {ours.percentile(99):.1f} ms vs ceiling's "
        f"{ceiling.percentile(99):.1f} ms: goal {'met' if met else 'NOT met'}"
    )
    speedup, concurrency, ours_low, seed = min(rows, key=lambda row: row[0])
    speedup_top = next(row[0] for row in rows if row[1] == top)

    def rps(name: str) -> float:
        return by_key[(name, top)].rps

    print(
        f"serving: concurrency={concurrency} starcast_rps={ours_low.rps:.1f} "
        f"seed_rps={seed.rps:.1f} speedup={speedup:.2f} "
        f"starcast_p99_ms={ours_low.percentile(99):.1f} seed_p50_ms={seed.percentile(50):.1f} "
        f"speedup_{top}={speedup_top:.2f} ceiling_rps={ceiling.rps:.1f} "
        f"ceiling_ratio={ceiling_ratio:.3f} ceiling_p99_ms={ceiling.percentile(99):.1f} "
        f"starcast_p99_{top}_ms={ours.percentile(99):.1f} "
        f"nobatch_rps_{top}={rps('starcast-nobatch'):.1f} "
        f"seed_compiled_rps_{top}={rps('seed-compiled'):.1f} "
        f"seed_transient_rps_{top}={rps('seed-compiled-transient'):.1f} "
        f"load={sorted(loads)[len(loads) // 2]:.1f}"
    )


if __name__ == "__main__":
    main()
