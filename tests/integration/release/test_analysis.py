"""A canary's analysis runs real PromQL on a real Prometheus scraping a real frontend and worker
serving the candidate model; a failing analysis aborts the canary."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from starcast.serving.wire import PREDICT_TASK
from starcast.up.processes import free_port
from tests.integration.serving.stack import ServingStack
from tests.integration.serving.test_predictions_over_http import sample_repositories
from tests.support.kube import KubePlane, wait_until
from tests.support.models import ModelArtifact
from tests.support.operator_process import OperatorProcess
from tests.support.prometheus import start_prometheus
from tests.support.release import CANARY, model_release, status

pytestmark = [pytest.mark.integration, pytest.mark.kube]

ERROR_RATIO = (
    'sum(starcast_worker_batches_total{model_version="{{version}}",outcome="error"})'
    ' / sum(starcast_worker_batches_total{model_version="{{version}}"})'
)
FAILED = 'sum(starcast_worker_batches_total{model_version="{{version}}",outcome="error"})'
PREDICTIONS = 'sum(starcast_predictions_total{model_version="{{version}}"})'


def _value(result: list[dict[str, Any]]) -> float | None:
    return float(result[0]["value"][1]) if result else None


def _analysis(prometheus_url: str) -> dict[str, Any]:
    return {
        "prometheusUrl": prometheus_url,
        "intervalSeconds": 1,
        "count": 3,
        "failureLimit": 1,
        "checks": [
            {"name": "predictions", "query": PREDICTIONS, "min": 1},
            {"name": "error-ratio", "query": ERROR_RATIO, "max": 0.05},
        ],
    }


def test_a_canary_failing_its_analysis_on_real_metrics_is_aborted(
    kube_plane: KubePlane,
    workers: str,
    operator: OperatorProcess,
    broker_url: str,
    model_artifact: ModelArtifact,
    tmp_path: Path,
) -> None:
    stack = ServingStack(tmp_path / "stack", broker_url)
    stack.base_dir.mkdir()
    worker_metrics = free_port()
    try:
        stack.start_worker(
            model_artifact, worker_metrics_port=worker_metrics, worker_metrics_host="127.0.0.1"
        )
        frontend = stack.start_frontend()
        stack.wait_until_ready()
        prometheus = start_prometheus(
            tmp_path / "prometheus",
            [f"127.0.0.1:{worker_metrics}", frontend.removeprefix("http://")],
        )
        try:
            # Good traffic through the frontend, then batches the candidate fails on.
            for offset in range(0, 40, 8):
                answer = httpx.post(
                    f"{frontend}/api/v1/predict",
                    json={"repositories": sample_repositories(8, offset=offset)},
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
            celery = stack.celery()
            for _ in range(3):
                celery.send_task(PREDICT_TASK, args=[{"rows": -1}], queue=stack.queue)
            version = model_artifact.version
            wait_until(
                lambda: _value(prometheus.query(FAILED.replace("{{version}}", version))) == 3,
                "the worker's error series in Prometheus",
                60,
            )
            # Every series a check may compare versions by carries model_version.
            label = f'{{model_version="{version}"}}'
            kinds = prometheus.query(f"sum by (kind) (starcast_worker_errors_total{label})")
            assert kinds and sum(float(r["value"][1]) for r in kinds) == 3, kinds
            assert all(r["metric"].get("kind") for r in kinds), kinds
            for histogram in (
                "starcast_prediction_latency_seconds",
                "starcast_worker_batch_predict_seconds",
            ):
                query = f"histogram_quantile(0.99, sum by (le) ({histogram}_bucket{label}))"
                # The frontend and the worker are scraped apart: the other target may lag.
                wait_until(
                    functools.partial(_positive, prometheus, query),
                    f"{histogram} in Prometheus",
                    60,
                )
            assert _value(prometheus.query(f"sum(starcast_worker_predictions_total{label})")) == 40
            steps = {
                "type": "Canary",
                "canary": {
                    "steps": [{"setWeight": 20, "pause": {"untilPromoted": True}, "analysis": True}]
                },
            }
            release = model_release(
                "candidate",
                sha256=model_artifact.sha256,
                version=version,
                strategy=steps,
                analysis=_analysis(prometheus.url),
            )
            kube_plane.kubectl("apply", "-n", workers, "-f", "-", input=release)
            wait_until(
                lambda: status(kube_plane, workers, "candidate").get("phase") == "RolledBack",
                "the canary aborted by its analysis",
                90,
            )
        finally:
            prometheus.stop()
    finally:
        stack.stop()
    final = status(kube_plane, workers, "candidate")
    assert final["reason"] == "AnalysisFailed"
    # The measured values are the real ones: 40 predictions, 3 failed batches.
    assert "predictions=40 ok" in final["message"]
    assert re.search(r"error-ratio=0\.\d+ > 0\.05", final["message"]), final["message"]
    assert final["analysis"]["failures"] == 2 and final["analysis"]["measurements"] == 2
    deployments = kube_plane.kubectl_json("get", "deployments", "-n", workers)["items"]
    assert CANARY not in {d["metadata"]["name"] for d in deployments}


def _positive(prometheus: Any, query: str) -> bool:
    return (_value(prometheus.query(query)) or 0) > 0
