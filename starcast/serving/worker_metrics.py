"""Prometheus metrics of one worker process, labelled with the model version it serves.

A ModelRelease's analysis compares versions with them (the canary's error ratio, its latency
against the stable's), so every series carries `model_version`.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from starcast.serving.metrics import LATENCY_BUCKETS


class WorkerMetrics:
    """Counters and histograms in a registry of their own; served on /metrics when asked."""

    def __init__(self) -> None:
        self._server: Any = None
        self.registry = CollectorRegistry(auto_describe=True)
        self.batches = Counter(
            "starcast_worker_batches",
            "Batches a worker finished, by model version and outcome (ok, error)",
            ["model_version", "outcome"],
            registry=self.registry,
        )
        self.predictions = Counter(
            "starcast_worker_predictions",
            "Repositories predicted, by model version",
            ["model_version"],
            registry=self.registry,
        )
        self.errors = Counter(
            "starcast_worker_errors",
            "Batches that failed, by model version and kind (the exception's class)",
            ["model_version", "kind"],
            registry=self.registry,
        )
        self.predict_time = Histogram(
            "starcast_worker_batch_predict_seconds",
            "Time the model took for one batch, by model version",
            ["model_version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def batch_done(self, version: str, rows: int, seconds: float) -> None:
        self.batches.labels(version, "ok").inc()
        self.predictions.labels(version).inc(rows)
        self.predict_time.labels(version).observe(seconds)

    def batch_failed(self, version: str, error: BaseException) -> None:
        self.batches.labels(version, "error").inc()
        self.errors.labels(version, type(error).__name__).inc()

    def serve(self, host: str, port: int) -> None:
        self._server, _ = start_http_server(port, addr=host, registry=self.registry)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
