"""Prometheus metrics of one worker process, labelled with the model version it serves.

A ModelRelease's analysis compares versions with them (the canary's error ratio, its latency
against the stable's), so every series carries `model_version`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from starcast.metrics_endpoint import ServedRegistry
from starcast.serving.metrics import LATENCY_BUCKETS


class WorkerMetrics(ServedRegistry):
    """Counters and histograms in a registry of their own; served on /metrics when asked."""

    def __init__(self) -> None:
        super().__init__(CollectorRegistry(auto_describe=True))
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
