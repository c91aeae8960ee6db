"""Defaults that act: the operator started with no flags reconciles; peering asked for works or
says, before kopf starts, what is missing and the command that fixes it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.operator.conftest import CRD_DIR, TrainingNamespace
from tests.integration.operator.resources import apply, get, wait_phase
from tests.support.kube import KubePlane
from tests.support.kuberay import wait_established
from tests.support.operator_process import OperatorProcess

pytestmark = [pytest.mark.kube, pytest.mark.integration]

PEERING = "starcast-defaults-test"
CLUSTER_PEERING_CRD = "clusterkopfpeerings.kopf.dev"


def test_run_with_no_flags_reconciles(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    alone: None,
    prepared_artifact: Callable[[str], None],
    tmp_path: Path,
) -> None:
    # The session's env names no STARCAST_OPERATOR_PEERING or _NAMESPACES: a user's shell.
    process = OperatorProcess(operator.env, tmp_path / "bare.log").start()
    try:
        apply(kube_plane, served.run("bare"))
        wait_phase(kube_plane, "bare", served.name, "Succeeded", log=process.log_tail)
        assert "standalone (no peering)" in process.log_tail(10**6)
    finally:
        process.stop()


def test_peering_asked_for_makes_its_object(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    alone: None,
    prepared_artifact: Callable[[str], None],
    tmp_path: Path,
) -> None:
    process = OperatorProcess(operator.env, tmp_path / "peered.log", "--peering", PEERING)
    try:
        process.start()
        assert get(kube_plane, "clusterkopfpeering", PEERING, "default") is not None
        apply(kube_plane, served.run("peered"))
        wait_phase(kube_plane, "peered", served.name, "Succeeded", log=process.log_tail)
    finally:
        process.stop()
        kube_plane.kubectl("delete", "clusterkopfpeering", PEERING, "--ignore-not-found")


def test_peering_without_kopfs_crds_says_the_fix_and_exits(
    kube_plane: KubePlane, operator: OperatorProcess, alone: None
) -> None:
    kube_plane.kubectl("delete", "crd", CLUSTER_PEERING_CRD, "--wait=true")
    try:
        argv = [sys.executable, "-m", "starcast", "operator", "run", "--peering", PEERING]
        done = subprocess.run(
            argv, env=operator.env, capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        kube_plane.kubectl(
            "apply", "--server-side", "-f", str(CRD_DIR / f"{CLUSTER_PEERING_CRD}.yaml")
        )
        wait_established(kube_plane, CLUSTER_PEERING_CRD)
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "peering CRDs are not installed" in said
    assert "starcast operator crds | kubectl apply --server-side -f -" in said
