"""Without KubeRay a run waits, saying how to install it, and proceeds once KubeRay is there."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.operator.conftest import TrainingNamespace
from tests.integration.operator.resources import (
    apply,
    condition,
    events_for,
    get,
    held_running,
    status,
    wait_for,
    wait_phase,
)
from tests.support.kube import KubePlane
from tests.support.kuberay import install_crds, uninstall_rayjob_crd
from tests.support.operator_process import OperatorProcess
from tests.support.rayjob_executor import LocalRayJobExecutor

pytestmark = [pytest.mark.kube, pytest.mark.integration]

FOLLOW_RAYJOB = "follow_rayjob"


def _wait_for_kuberay_condition(
    plane: KubePlane, name: str, ns: str, operator: OperatorProcess
) -> dict[str, Any]:
    """The run Pending with the condition that says KubeRay's CRD is absent; its status."""

    def waiting() -> bool:
        cond = condition(status(plane, name, ns), "KubeRayAvailable")
        return cond.get("reason") == "CRDNotInstalled"

    wait_for("the KubeRay condition", waiting, explain=operator.log_tail)
    pending = status(plane, name, ns)
    assert pending["phase"] == "Pending"
    return pending


def _converges_through_its_rayjob(
    plane: KubePlane, name: str, ns: str, operator: OperatorProcess
) -> None:
    """Once KubeRay is there: its RayJob made, the run Succeeded, followed by the RayJob watch
    (its events reached the operator, not only the resync timer)."""
    wait_for(
        "the RayJob, once KubeRay is there",
        lambda: get(plane, "rayjob", f"tr-{name}", ns),
        explain=operator.log_tail,
    )
    done = wait_phase(plane, name, ns, "Succeeded", log=operator.log_tail)
    assert condition(done, "KubeRayAvailable")["status"] == "True"
    assert operator.handler_runs(FOLLOW_RAYJOB, "RayJob", f"tr-{name}", ns) > 0


def test_no_kuberay_condition_then_recovery(
    kube_plane: KubePlane,
    kuberay_dir: Path,
    training_namespace: TrainingNamespace,
    operator: OperatorProcess,
    executor: LocalRayJobExecutor,
    prepared_artifact: Callable[[str], None],
) -> None:
    ns = training_namespace.name
    executor.serve(ns)
    # An operator that starts where KubeRay is not installed (the case users meet); the CRD
    # taken away under a running operator is the next test.
    operator.stop()
    uninstall_rayjob_crd(kube_plane)
    operator.start()
    try:
        apply(kube_plane, training_namespace.run("patient"))
        pending = _wait_for_kuberay_condition(kube_plane, "patient", ns, operator)
        message = condition(pending, "KubeRayAvailable")["message"]
        assert "rayjobs.ray.io CRD is absent" in message and "helm install" in message
    finally:
        install_crds(kube_plane, kuberay_dir)
    _converges_through_its_rayjob(kube_plane, "patient", ns, operator)


def test_kuberay_removed_under_a_running_operator(
    kube_plane: KubePlane,
    kuberay_dir: Path,
    served: TrainingNamespace,
    operator: OperatorProcess,
    executor: LocalRayJobExecutor,
    prepared_artifact: Callable[[str], None],
) -> None:
    """The CRD deleted while the operator runs: it survives, waits, and resumes by itself."""
    ns = served.name
    pid = operator.pid
    with held_running(kube_plane, executor, served.run("interrupted"), operator.log_tail):
        uninstall_rayjob_crd(kube_plane)
    try:
        apply(kube_plane, served.run("patient-too"))
        _wait_for_kuberay_condition(kube_plane, "patient-too", ns, operator)
        # The run that was Running lost its RayJob with the CRD: it says so, and is not re-run.
        lost = wait_phase(kube_plane, "interrupted", ns, "Failed", log=operator.log_tail)
        message = condition(lost, "Succeeded")["message"]
        assert condition(lost, "Succeeded")["reason"] == "RayJobLost"
        assert "tr-interrupted" in message and "rayjobs.ray.io CRD" in message
        assert "RayJobLost" in [e["reason"] for e in events_for(kube_plane, "interrupted", ns)]
    finally:
        install_crds(kube_plane, kuberay_dir)
    _converges_through_its_rayjob(kube_plane, "patient-too", ns, operator)
    assert operator.alive and operator.pid == pid
    assert operator.get(operator.liveness_url) is not None
    assert get(kube_plane, "rayjob", "tr-interrupted", ns) is None
