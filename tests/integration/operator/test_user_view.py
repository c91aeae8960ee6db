"""What a user sees of a run with kubectl: why it failed in `kubectl get`, the RMSLE as read,
Events in words, and `kubectl wait` ending on failure as on success."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.integration.operator.conftest import TrainingNamespace
from tests.integration.operator.resources import apply, events_for, wait_for
from tests.support.kube import KubePlane
from tests.support.operator_process import OperatorProcess

pytestmark = [pytest.mark.kube, pytest.mark.integration]

WAIT_S = "90s"


def _wait(plane: KubePlane, ns: str, name: str, condition: str) -> None:
    plane.kubectl(
        "wait", "-n", ns, f"--for=condition={condition}", f"trainingrun/{name}",
        f"--timeout={WAIT_S}", timeout=120,
    )  # fmt: skip


def test_a_failed_run_says_why_in_kubectl_get_and_kubectl_wait_ends(
    kube_plane: KubePlane, served: TrainingNamespace, operator: OperatorProcess
) -> None:
    ns = served.name
    apply(kube_plane, served.run("lost", storageSecretRef={"name": "absent"}))
    _wait(kube_plane, ns, "lost", "Failed")
    header, row = kube_plane.kubectl("get", "tr", "lost", "-n", ns).stdout.splitlines()
    assert header.split() == ["NAME", "PHASE", "WINNER", "RMSLE", "MODEL", "REASON", "AGE"]
    assert row.split()[:3] == ["lost", "Failed", "SecretNotFound"]
    wide = kube_plane.kubectl("get", "tr", "lost", "-n", ns, "-o", "wide").stdout
    assert f"Secret {ns}/absent does not exist" in wide
    (event,) = wait_for("the run's Event", lambda: events_for(kube_plane, "lost", ns))
    assert (event["type"], event["reason"]) == ("Warning", "SecretNotFound")
    assert f"Secret {ns}/absent does not exist" in event["message"]


def test_a_succeeded_run_is_complete_with_its_rmsle_as_read(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    prepared_artifact: Callable[[str], None],
) -> None:
    ns = served.name
    apply(kube_plane, served.run("done"))
    _wait(kube_plane, ns, "done", "Complete")
    row = kube_plane.kubectl("get", "tr", "done", "-n", ns, "--no-headers").stdout.split()
    assert row[1] == "Succeeded"
    assert re.fullmatch(r"\d+\.\d{3}", row[3]), row  # 3 decimals, not 0.62149817113837
    assert row[5] == "ModelVerified"
    for event in events_for(kube_plane, "done", ns):
        assert " - " not in event["message"] and not event["message"].endswith(" -"), event
