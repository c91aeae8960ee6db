"""Prometheus metrics of one frontend, in a registry of its own (no process-global collectors)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
ROW_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class ErrorKind(StrEnum):
    VALIDATION = "validation"
    BODY_TOO_LARGE = "body_too_large"
    DEADLINE = "deadline"
    BROKER = "broker"
    WORKER = "worker"
    LOOKUP_UNAVAILABLE = "lookup_unavailable"
    LOOKUP = "lookup"


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "starcast_http_requests",
            "HTTP requests by route, method and status code",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "starcast_http_request_duration_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "starcast_errors",
            "Failed predictions and rejected requests, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "starcast_queue_wait_seconds",
            "Time a batch waited in the queue before a worker started it",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predict_time = Histogram(
            "starcast_worker_predict_seconds",
            "Time the model took for one batch on a worker",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_round_trip = Histogram(
            "starcast_batch_round_trip_seconds",
            "From publishing a batch to receiving its result",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "starcast_batch_rows",
            "Repositories per batch sent to a worker",
            buckets=ROW_BUCKETS,
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "starcast_batch_requests",
            "HTTP requests coalesced into one batch",
            buckets=ROW_BUCKETS,
            registry=self.registry,
        )
        self.batches_in_flight = Gauge(
            "starcast_batches_in_flight",
            "Batches published and not answered yet",
            registry=self.registry,
        )
        # Per model version, so a ModelRelease's analysis can compare a canary with the stable.
        self.predictions = Counter(
            "starcast_predictions",
            "Repositories predicted, by the model version that answered",
            ["model_version"],
            registry=self.registry,
        )
        self.version_latency = Histogram(
            "starcast_prediction_latency_seconds",
            "From publishing a batch to its result, by the model version that answered",
            ["model_version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.republished = Counter(
            "starcast_batches_republished",
            "Batches sent again after the reply connection to the broker was re-established",
            registry=self.registry,
        )

    def error(self, kind: ErrorKind) -> None:
        self.errors.labels(kind=kind.value).inc()
