"""The operator's Prometheus metrics, in a registry of its own (kopf has none of its own).

Reconciles, errors and durations per kind, RayJobs created, TrainingRuns by phase (read at
scrape time from a kopf index, so it is right after a restart without any bookkeeping), and the
runs waiting in the work queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from starcast.metrics_endpoint import ServedRegistry

TRAINING_RUN: Final = "TrainingRun"
PHASES: Final = ("Pending", "Running", "Succeeded", "Failed")

PhaseCounts = Callable[[], Mapping[str, int]]
Depth = Callable[[], int]


class _PhaseCollector(Collector):
    def __init__(self, counts: PhaseCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "starcast_operator_trainingruns", "TrainingRuns by phase", labels=["phase"]
        )
        counts = self._counts()
        for phase in (*PHASES, *sorted(set(counts) - set(PHASES))):
            gauge.add_metric([phase], counts.get(phase, 0))
        yield gauge


class _QueueCollector(Collector):
    def __init__(self, depth: Depth) -> None:
        self._depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "starcast_operator_workqueue_depth",
            "TrainingRuns waiting in the work queue",
            value=self._depth(),
        )


class OperatorMetrics(ServedRegistry):
    """Counters and histograms of one operator process, served on /metrics when asked."""

    def __init__(self) -> None:
        super().__init__(CollectorRegistry())
        self.reconciles = Counter(
            "starcast_operator_reconciles",
            "Reconciles by kind and outcome (ok, requeued, error)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "starcast_operator_reconcile_errors",
            "Reconciles that raised, by kind and error class",
            ["kind", "error"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "starcast_operator_reconcile_duration_seconds",
            "Time of one reconcile, by kind",
            ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.rayjobs_created = Counter(
            "starcast_operator_rayjobs_created",
            "RayJobs the operator created",
            registry=self.registry,
        )

    def observe_reconcile(self, seconds: float, kind: str = TRAINING_RUN) -> None:
        self.duration.labels(kind).observe(seconds)

    def count_phases(self, counts: PhaseCounts) -> None:
        self.registry.register(_PhaseCollector(counts))

    def count_queued(self, depth: Depth) -> None:
        self.registry.register(_QueueCollector(depth))
