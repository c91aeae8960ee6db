"""KubeRay's real controller takes the RayJob the operator made: RayCluster, pods on kwok nodes.

The head's dashboard can't answer under kwok, so the job itself ends the way KubeRay ends a job
it can't follow; the operator carries KubeRay's reason into the TrainingRun.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.integration.operator.conftest import TrainingNamespace
from tests.integration.operator.resources import (
    apply,
    condition,
    get,
    items,
    wait_for,
    wait_phase,
)
from tests.support.kube import KubePlane
from tests.support.kuberay import kuberay_controller
from tests.support.operator_process import OperatorProcess

pytestmark = [pytest.mark.kube, pytest.mark.integration, pytest.mark.slow]


def _pods(plane: KubePlane, namespace: str, cluster: str) -> list[dict[str, Any]]:
    return [
        pod
        for pod in items(plane, "pods", namespace)
        if pod["metadata"].get("labels", {}).get("ray.io/cluster") == cluster
    ]


def test_kuberay_runs_the_operators_rayjob_on_kwok_nodes(
    kube_plane: KubePlane,
    kuberay_dir: Path,
    kuberay_crds: None,
    training_namespace: TrainingNamespace,
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    ns = training_namespace.name
    run = training_namespace.run(
        "real",
        ray={
            "head": {"cpu": "1", "memory": "2Gi"},
            "workers": {
                "replicas": 2,
                "minReplicas": 2,
                "maxReplicas": 2,
                "cpu": "2",
                "memory": "3Gi",
            },
        },
    )
    log = tmp_path / "kuberay.log"
    with kuberay_controller(kube_plane, kuberay_dir, ns, log):
        apply(kube_plane, run)
        job = wait_for("the RayJob", lambda: get(kube_plane, "rayjob", "tr-real", ns))

        def cluster_name() -> str | None:
            found = (get(kube_plane, "rayjob", "tr-real", ns) or {}).get("status", {})
            name: str | None = found.get("rayClusterName")
            return name

        cluster = wait_for("KubeRay's RayCluster", cluster_name, explain=log.read_text)
        assert get(kube_plane, "raycluster", cluster, ns) is not None

        def running_pods() -> list[dict[str, Any]] | None:
            pods = _pods(kube_plane, ns, cluster)
            running = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
            return pods if len(pods) == 3 and len(running) == 3 else None

        pods = wait_for(
            "head and 2 workers Running", running_pods, timeout=90, explain=log.read_text
        )
        for pod in pods:
            assert pod["spec"]["nodeName"].startswith("kwok-node-")
            (container,) = [c for c in pod["spec"]["containers"] if c["name"].startswith("ray-")]
            assert container["image"] == "starcast-trainer:test"
            node_type = pod["metadata"]["labels"]["ray.io/node-type"]
            expected = {"head": ("1", "2Gi"), "worker": ("2", "3Gi")}[node_type]
            limits = container["resources"]["limits"]
            assert (limits["cpu"], limits["memory"]) == expected
            assert {"secretRef": {"name": "storage"}} in container["envFrom"]
        # The submitter Job runs the entrypoint the spec asked for.
        submitter = wait_for("the submitter Job", lambda: get(kube_plane, "job", "tr-real", ns))
        command = " ".join(
            submitter["spec"]["template"]["spec"]["containers"][0]["command"]
            + submitter["spec"]["template"]["spec"]["containers"][0].get("args", [])
        )
        assert shlex.split(job["spec"]["entrypoint"])[:3] == ["python", "-m", "starcast.training"]
        assert "starcast.training" in command and "--family ridge" in command

        failed = wait_phase(kube_plane, "real", ns, "Failed", timeout=240, log=log.read_text)
    cond = condition(failed, "Succeeded")
    assert cond["status"] == "False"
    kuberay_status = get(kube_plane, "rayjob", "tr-real", ns)["status"]  # type: ignore[index]
    assert cond["reason"] == kuberay_status["reason"]
    assert failed["jobDeploymentStatus"] == "Failed"
