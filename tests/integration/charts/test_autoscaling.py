"""The real HPA controller scales the chart's workers on the CPU kwok reports, up and back down.

The load is the CPU each worker pod reports (kwok's usage annotation, set on every worker pod
while the load lasts, as a busy queue keeps every worker busy); metrics-server turns kwok's
counters into metrics.k8s.io, and the plane's kube-controller-manager runs the HPA the chart made.
The replica counts seen are printed (pytest -s) for the closing note.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.support.charts import SERVING_CHART
from tests.support.kube import KubePlane
from tests.support.metrics_server import USAGE_CPU_ANNOTATION, MetricsStack

pytestmark = [pytest.mark.kube, pytest.mark.slow]

WORKER = "serving-starcast-serving-worker"
PHASE_TIMEOUT_S = 240.0
POLL_S = 5.0


class Timeline:
    def __init__(self, plane: KubePlane, namespace: str) -> None:
        self.plane, self.namespace, self.start = plane, namespace, time.monotonic()
        self.seen: list[tuple[int, int, int | None, str]] = []

    def observe(self, load: str) -> int:
        hpa = self.plane.kubectl_json("get", "hpa", WORKER, "-n", self.namespace)
        status = hpa["status"]
        cpu = next(
            (m["resource"]["current"].get("averageUtilization")
             for m in status.get("currentMetrics") or [] if m.get("type") == "Resource"),
            None,
        )  # fmt: skip
        replicas = int(status.get("currentReplicas", 0))
        self.seen.append((round(time.monotonic() - self.start), replicas, cpu, load))
        return replicas

    def render(self) -> str:
        return "\n".join(
            f"t={t:>4}s replicas={r} cpu={c}% load={load}" for t, r, c, load in self.seen
        )


def _load_workers(plane: KubePlane, namespace: str, cpu: str) -> None:
    plane.kubectl(
        "annotate", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=worker",
        f"{USAGE_CPU_ANNOTATION}={cpu}", "--overwrite",
    )  # fmt: skip


def test_the_hpa_scales_the_workers_up_over_target_and_back_down(
    kube_plane: KubePlane, kube_namespace: str, resource_metrics: MetricsStack
) -> None:
    ns = kube_namespace
    stack = resource_metrics
    kube_plane.helm(
        "install", "serving", str(SERVING_CHART), "-n", ns, "--wait", "--timeout=120s",
        "--values", str(SERVING_CHART / "ci" / "hpa-values.yaml"),
        "--set", "rabbitmq.persistence.enabled=false", "--set", "frontend.replicaCount=1",
        "--set", f"worker.nodeSelector.kubernetes\\.io/hostname={stack.node}",
        "--set", "worker.autoscaling.behavior.scaleDown.stabilizationWindowSeconds=0",
    )  # fmt: skip
    timeline = Timeline(kube_plane, ns)

    def phase(load: str, cpu: str, done: Callable[[int], bool]) -> None:
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        while True:
            _load_workers(kube_plane, ns, cpu)  # new pods share the load too
            if done(timeline.observe(load)):
                return
            assert time.monotonic() < deadline, f"HPA timeline:\n{timeline.render()}"
            time.sleep(POLL_S)

    phase("idle", "10m", lambda replicas: replicas == 1)
    phase("busy", "900m", lambda replicas: replicas == 6)  # 180% of the 500m request
    phase("idle", "10m", lambda replicas: replicas == 1)
    print(f"\nHPA replica counts over time:\n{timeline.render()}")
    counts = [replicas for _, replicas, _, _ in timeline.seen]
    assert max(counts) == 6 and counts[-1] == 1
