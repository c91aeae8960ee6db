"""Serving throughput and latency: starcast as built against the original design, same run.

Three ways to answer single-repository prediction requests, on the same model and machine:
  (a) starcast: `starcast up` (FastAPI frontend micro-batching concurrent requests into Celery
      tasks over a private RabbitMQ, workers predicting each batch in one vectorised call);
  (b) seed: the original design, a Flask app sending one Celery task per request with default
      Celery settings and the rpc:// result backend, waiting on `.get()`;
  (c) in-process `predict` on one row at a time, no HTTP and no queue (a reference).
(a) and (b) get the same closed-loop HTTP load: C connections, each sending its next request as
soon as the last one is answered (keep-alive where the server allows it), from a lean asyncio
client in this process. Both are up at once and measured in turns (3 rounds each, 1 with
--quick), so other load on the machine hits both alike. BLAS/OpenMP threads are limited to one
per process everywhere, the seed included; the seed's Flask app runs on a fixed thread pool
(see run_seed_frontend), which is kinder to it than Flask's thread-per-connection server.

    python bench/serving.py [--quick] [--concurrency 16 64]

Last line (at the concurrency where starcast's speedup is lowest):
`serving: concurrency=... starcast_rps=... seed_rps=... speedup=... starcast_p99_ms=...
seed_p50_ms=...`
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
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from starcast import artifact
from starcast.artifact import DatasetInfo, FamilyResult, Metrics
from starcast.dataset import read_dataset
from starcast.features import feature_names
from starcast.sample import sample_dataset_uri
from starcast.serving.lookup import rows_from_records
from starcast.serving.schemas import RepositoryFeatures
from starcast.serving.wire import PredictBatch
from starcast.training.pipeline import build_pipeline
from starcast.up.processes import ManagedProcess, free_port, starcast_command, wait_until
from starcast.up.rabbitmq import RabbitMQServer

SEED_QUEUE: Final = "celery"  # the default queue of a default Celery app
REQUEST_POOL: Final = 500  # distinct repositories the requests cycle through
ONE_THREAD: Final = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# -- the seed: one Celery task per request, default settings, rpc:// results ----------------------


def one_row_frame(features: dict[str, Any]) -> pd.DataFrame:
    """An API request's features as the model's frame: what the original app predicted on."""
    row = RepositoryFeatures.model_validate(features).to_row()
    return PredictBatch(rows=1, columns={k: [v] for k, v in row.items()}, sent_at=0).to_frame()


def seed_celery() -> Any:
    from celery import Celery

    return Celery("seed", broker=os.environ["SEED_BROKER_URL"], backend="rpc://")


def run_seed_worker() -> None:
    app = seed_celery()
    model = artifact.load_artifact(os.environ["SEED_MODEL_URI"])

    @app.task(name="seed.predict")  # type: ignore[untyped-decorator]
    def predict(features: dict[str, Any]) -> dict[str, Any]:
        frame = one_row_frame(features)
        return {"stars": float(model.predict_stars(frame)[0]), "model_version": model.version}

    app.worker_main(["worker", "--loglevel=WARNING", "--without-gossip", "--without-mingle"])


def run_seed_frontend(port: int) -> None:
    """The seed's Flask app. Served by werkzeug with a fixed pool of threads: its dev server
    starts a thread per connection, and Celery's rpc backend keeps one reply queue per thread
    id; thread ids are reused, so replies land on dead threads' consumers and requests time out
    under any concurrency. A persistent pool measures the seed at its best instead."""
    from concurrent.futures import ThreadPoolExecutor

    from flask import Flask, jsonify, request
    from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

    celery_app = seed_celery()
    flask_app = Flask("seed")

    @flask_app.post("/api/v1/predict")
    def predict() -> Any:
        repository = request.get_json()["repositories"][0]
        result = celery_app.send_task("seed.predict", args=[repository["features"]]).get(timeout=30)
        return jsonify(
            {
                "predictions": [
                    {
                        "full_name": repository.get("full_name"),
                        "predicted_stars": result["stars"],
                        "model_version": result["model_version"],
                    }
                ]
            }
        )

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any) -> None:
            pass  # a log line per request would slow the seed down; be generous to it

    class PooledServer(BaseWSGIServer):
        multithread = True
        pool = ThreadPoolExecutor(max_workers=256, thread_name_prefix="seed")

        def process_request(self, connection: Any, address: Any) -> None:
            self.pool.submit(self._serve, connection, address)

        def _serve(self, connection: Any, address: Any) -> None:
            try:
                self.finish_request(connection, address)
            except Exception:
                self.handle_error(connection, address)
            finally:
                self.shutdown_request(connection)

    PooledServer("127.0.0.1", port, flask_app, handler=QuietHandler).serve_forever()


# -- load ---------------------------------------------------------------------------------------


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
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else 0.0


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
    rows = rows_from_records(
        [{str(k): v for k, v in record.items()} for record in records.to_dict(orient="records")]
    )
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
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, default=None, help="starcast workers (up default)")
    parser.add_argument("--role", choices=["seed-worker", "seed-frontend"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "seed-worker":
        run_seed_worker()
        return
    if args.role == "seed-frontend":
        run_seed_frontend(args.port)
        return

    warmup, seconds, rounds = (2.0, 6.0, 1) if args.quick else (3.0, 10.0, 3)
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="starcast-bench-") as scratch:
        base = Path(scratch)
        broker = RabbitMQServer(base / "rabbitmq", node_name="starcast-bench")
        broker.start()
        processes: list[ManagedProcess] = []
        try:
            model_uri = fit_model(base / "model")
            bodies = request_bodies()
            results.append(in_process(model_uri, bodies, seconds / 2))
            environment = {**os.environ, **ONE_THREAD}
            port, seed_port = free_port(), free_port()
            up_args = ["up", "--model", model_uri, "--port", str(port)]
            up_args += ["--state-dir", str(base / "up")]
            up_args += ["--workers", str(args.workers)] if args.workers else []
            starcast = ManagedProcess(
                "starcast up",
                starcast_command(*up_args),
                {**environment, "STARCAST_BROKER_URL": broker.url},
                base / "up.log",
            )
            seed_env = {**environment, "SEED_BROKER_URL": broker.url, "SEED_MODEL_URI": model_uri}
            script = [sys.executable, str(Path(__file__).resolve())]
            seed = [
                ManagedProcess("seed worker", [*script, "--role", "seed-worker"], seed_env,
                               base / "seed-worker.log"),
                ManagedProcess("seed frontend",
                               [*script, "--role", "seed-frontend", "--port", str(seed_port)],
                               seed_env, base / "seed-frontend.log"),
            ]  # fmt: skip
            processes = [starcast, *seed]
            for process in processes:
                process.start()
            wait_http(f"http://127.0.0.1:{port}/readyz", [starcast])
            while "Ctrl-C stops" not in starcast.log_tail(3):
                time.sleep(0.2)
            wait_http(f"http://127.0.0.1:{seed_port}/", seed)
            wait_answer(seed_port, bodies[0], seed)  # the seed worker is consuming
            # Both systems are up at once and measured in turns, so a change in what else runs
            # on the machine hits both alike.
            for concurrency in args.concurrency:
                before = histogram_totals(port)
                runs = [
                    measure("starcast", port, bodies, concurrency, warmup, seconds)
                    for _ in range(rounds)
                ]
                print(f"  starcast batches: {breakdown(before, histogram_totals(port))}")
                results.append(combine(runs))
                runs = [
                    measure("seed", seed_port, bodies, concurrency, warmup, seconds)
                    for _ in range(rounds)
                ]
                results.append(combine(runs))
        finally:
            for process in processes:
                process.stop(60)
            broker.close()

    report(results)


def report(results: Sequence[Measurement]) -> None:
    print(f"{'system':<12}{'conc':>6}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for m in results:
        print(
            f"{m.system:<12}{m.concurrency:>6}{m.rps:>10.1f}{m.percentile(50):>10.2f}"
            f"{m.percentile(99):>10.2f}{m.errors:>8}"
        )
    by_key = {(m.system, m.concurrency): m for m in results}
    rows = []
    for (system, concurrency), ours in by_key.items():
        if system != "starcast":
            continue
        seed = by_key[("seed", concurrency)]
        speedup = ours.rps / seed.rps if seed.rps else float("inf")
        met = speedup >= 10 and ours.percentile(99) < seed.percentile(50)
        print(
            f"concurrency {concurrency}: speedup {speedup:.1f}x, starcast p99 "
            f"{ours.percentile(99):.1f} ms vs seed p50 {seed.percentile(50):.1f} ms: "
            f"goal {'met' if met else 'NOT met'}"
        )
        rows.append((speedup, concurrency, ours, seed))
    speedup, concurrency, ours, seed = min(rows, key=lambda row: row[0])
    print(
        f"serving: concurrency={concurrency} starcast_rps={ours.rps:.1f} seed_rps={seed.rps:.1f} "
        f"speedup={speedup:.2f} starcast_p99_ms={ours.percentile(99):.1f} "
        f"seed_p50_ms={seed.percentile(50):.1f}"
    )


if __name__ == "__main__":
    main()
