"""A Celery worker that serves one verified model, and says when it is ready.

Start-up order: load the artifact (manifest, sha256 against the expected digest, trusted types,
feature schema), compile its prediction path (inference.py), run one smoke prediction, and only
then start consuming. The readiness file (`STARCAST_WORKER_READY_FILE`, the chart's probe)
appears once the consumer is running and goes away when it stops, so "ready" always means
"verified model, connected, taking batches". The heartbeat file (`STARCAST_WORKER_ALIVE_FILE`,
the chart's liveness probe) is touched by the consumer's timer: a hung process stops touching it.

Batches run one at a time (by default) on a thread of the worker's one process: Celery's prefork
pool would add a hop to a child process to every batch. Scale out with more worker processes
(pods); the time limit is enforced by time_limit.py, since Celery enforces it only in prefork.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from celery import Celery, bootsteps
from threadpoolctl import threadpool_limits

from starcast.artifact import load_artifact
from starcast.serving.celery_app import create_celery_app
from starcast.serving.inference import Predictor, predictor_for
from starcast.serving.settings import WorkerSettings
from starcast.serving.tasks import register_tasks
from starcast.serving.time_limit import TimeLimitWatchdog
from starcast.serving.wire import PredictBatch
from starcast.serving.worker_metrics import WorkerMetrics

logger = logging.getLogger(__name__)


class SmokeTestError(RuntimeError):
    """The model loaded but can't make a sane prediction."""


class ReadinessFile:
    """The file a readiness probe tests for; written atomically, removed on the way down."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark_ready(self, details: dict[str, str | int]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(details))
        partial.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class HeartbeatFile:
    """A file whose modification time says the worker's loop ran lately (a liveness probe)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def touch(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def smoke_test(predictor: Predictor) -> float:
    """Predict a repository about which nothing is known: the model must impute and answer."""
    unknown = PredictBatch(rows=1, columns={}, sent_at=time.time())
    stars = predictor.predict_stars(unknown)
    if stars.shape != (1,) or not np.all(np.isfinite(stars)) or stars[0] < 0:
        raise SmokeTestError(
            f"model {predictor.version} failed its smoke prediction: got {stars!r} for one row, "
            "expected one finite, non-negative star count"
        )
    return float(stars[0])


def load_verified_model(settings: WorkerSettings) -> Predictor:
    """The configured model, digest-checked, compiled and smoke-tested.

    Raises ArtifactError or SmokeTestError. A pipeline that does not compile is served as it is
    (slower), and the warning says why.
    """
    model = load_artifact(settings.model_uri, settings.model_sha256)
    predictor, not_compiled = predictor_for(model)
    if not_compiled:
        logger.warning(
            "model %s is served by its scikit-learn pipeline (about 10 ms a batch more): %s",
            model.version,
            not_compiled,
            extra={"model_version": model.version},
        )
    stars = smoke_test(predictor)
    logger.info(
        "model %s from %s verified (sha256 %s, %s path); smoke prediction %.1f stars",
        model.version,
        settings.model_uri,
        model.manifest.model_sha256,
        predictor.kind,
        stars,
        extra={"model_version": model.version},
    )
    return predictor


def build_worker_app(
    settings: WorkerSettings,
    predictor: Predictor,
    watchdog: TimeLimitWatchdog,
    metrics: WorkerMetrics | None = None,
) -> Celery:
    app = create_celery_app(settings)
    app.conf.worker_prefetch_multiplier = settings.worker_prefetch_multiplier
    register_tasks(app, predictor, watchdog, metrics or WorkerMetrics())
    readiness = ReadinessFile(settings.worker_ready_file)
    heartbeat = HeartbeatFile(settings.worker_alive_file) if settings.worker_alive_file else None
    details: dict[str, str | int] = {
        "model_version": predictor.version,
        "model_sha256": predictor.model.manifest.model_sha256,
        "inference": predictor.kind,
        "pid": os.getpid(),
    }

    class Readiness(bootsteps.StartStopStep):  # type: ignore[misc]
        """Consumer step: runs after the task consumer starts, stops before it does."""

        requires: ClassVar = {"celery.worker.consumer.tasks:Tasks"}

        def start(self, consumer: Any) -> None:
            readiness.mark_ready({**details, "hostname": str(consumer.hostname)})
            logger.info("worker %s ready: %s", consumer.hostname, readiness.path)
            if heartbeat is not None:
                heartbeat.touch()
                # On the consumer's own timer: a process that stops running it goes stale.
                consumer.timer.call_repeatedly(settings.worker_alive_interval_s, heartbeat.touch)

        def stop(self, consumer: Any) -> None:
            readiness.clear()

        def shutdown(self, consumer: Any) -> None:
            readiness.clear()
            if heartbeat is not None:
                heartbeat.clear()

    app.steps["consumer"].add(Readiness)
    return app


def default_hostname() -> str:
    return f"starcast-worker-{os.getpid()}@{socket.gethostname()}"


def run_worker(settings: WorkerSettings, *, log_level: str = "INFO") -> int:
    """Verify the model, then consume until SIGTERM/SIGINT (warm shutdown: running batches end)."""
    readiness = ReadinessFile(settings.worker_ready_file)
    readiness.clear()  # a file left by an earlier process must not vouch for this one
    if settings.worker_alive_file:
        HeartbeatFile(settings.worker_alive_file).clear()
    # Without a limit, OpenMP (HistGradientBoosting) spins a thread per core in every process.
    threadpool_limits(limits=settings.worker_threads)
    predictor = load_verified_model(settings)

    def exit_unready(code: int) -> None:
        readiness.clear()  # os._exit skips the `finally` below
        os._exit(code)

    watchdog = TimeLimitWatchdog(settings.task_time_limit_s, exit_process=exit_unready)
    metrics = WorkerMetrics()
    app = build_worker_app(settings, predictor, watchdog, metrics)
    if settings.worker_metrics_port:
        metrics.serve(settings.worker_metrics_host, settings.worker_metrics_port)
    # Everything alive now (libraries, the model) lives as long as the process: keep it out of
    # the collector's full passes, which would pause batches.
    gc.freeze()
    # Celery logs every task received and done, result included, at INFO: per batch, on the hot
    # path. Failures still log at ERROR; /metrics on the frontend counts the rest.
    for name in ("celery.app.trace", "celery.worker.strategy"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    worker = app.Worker(
        hostname=settings.worker_hostname or default_hostname(),
        concurrency=settings.worker_concurrency,
        pool="threads",
        loglevel=log_level,
        queues=[settings.queue],
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        quiet=True,
    )
    watchdog.start()
    try:
        worker.start()
    finally:
        watchdog.stop()
        metrics.stop()
        readiness.clear()
    exitcode: int = worker.exitcode or 0
    return exitcode
