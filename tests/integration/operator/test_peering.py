"""Two replicas peered as the chart runs them: one acts, and the other takes over when it dies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.operator.conftest import TrainingNamespace
from tests.integration.operator.resources import apply, items, wait_for, wait_phase
from tests.support.kube import KubePlane
from tests.support.operator_process import OperatorProcess

pytestmark = [pytest.mark.kube, pytest.mark.integration]

PEERING = "starcast-operator"  # the chart's peering.name
LIFETIME_S = 10  # the chart's peering.lifetimeSeconds, shortened so that the test is quick
PAUSING = "Pausing operations in favour of"  # kopf's peering log lines
RESUMING = "Resuming operations after the pause"


@pytest.fixture
def replicas(
    kube_plane: KubePlane, served: TrainingNamespace, operator: OperatorProcess, tmp_path: Path
) -> Iterator[dict[str, OperatorProcess]]:
    """Two operators with the environment the chart's peered Deployment gives its pods (one
    priority for both, the namespace's KopfPeering, POD_ID the pod's name); the session's
    standalone operator is stopped meanwhile."""
    ns = served.name
    apply(
        kube_plane,
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering",
         "metadata": {"name": PEERING, "namespace": ns}},
    )  # fmt: skip
    env = operator.env | {
        "STARCAST_OPERATOR_NAMESPACES": json.dumps([ns]),
        "STARCAST_OPERATOR_PEERING": PEERING,
        "STARCAST_OPERATOR_PRIORITY": "0",
        "STARCAST_OPERATOR_PEERING_LIFETIME_SECONDS": str(LIFETIME_S),
    }
    operator.stop()
    started: dict[str, OperatorProcess] = {}
    try:
        for pod in ("operator-a", "operator-b"):
            started[pod] = OperatorProcess(env | {"POD_ID": pod}, tmp_path / f"{pod}.log").start()
        yield started
    finally:
        for process in started.values():
            process.stop()
        operator.start()


def _peers(plane: KubePlane, ns: str) -> dict[str, dict[str, object]]:
    body = plane.kubectl_json("get", "kopfpeering", PEERING, "-n", ns)
    peers: dict[str, dict[str, object]] = body.get("status") or {}
    return peers


def test_two_replicas_one_acts_and_the_other_takes_over(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    replicas: dict[str, OperatorProcess],
    prepared_artifact: Callable[[str], None],
) -> None:
    ns = served.name
    peers = wait_for("both replicas in the peering", lambda: len(_peers(kube_plane, ns)) == 2)
    assert peers
    status = _peers(kube_plane, ns)
    priorities = {pod: int(str(status[pod]["priority"])) for pod in replicas}
    assert len(set(priorities.values())) == 2, "equal priorities would freeze both (kopf)"
    active, standby = sorted(replicas, key=priorities.__getitem__, reverse=True)
    log = replicas[active].log_tail

    def settled() -> bool:
        """Each starts paused (mandatory peering) and resumes once it sees it is the highest;
        the standby, if it resumed while alone, has paused since."""
        standby_log = replicas[standby].log_tail(10**7)
        return RESUMING in log(10**7) and standby_log.count(RESUMING) == standby_log.count(PAUSING)

    wait_for(
        "the election to settle", settled, explain=lambda: log() + replicas[standby].log_tail()
    )

    apply(kube_plane, served.run("first"))
    wait_phase(kube_plane, "first", ns, "Succeeded", log=log)
    assert replicas[active].rayjob_creates("first") == 1
    assert replicas[standby].rayjob_creates("first") == 0

    replicas[active].kill()  # no goodbye in the peering: the standby waits out its lifetime
    apply(kube_plane, served.run("second"))
    wait_phase(kube_plane, "second", ns, "Succeeded", timeout=LIFETIME_S + 90,
               log=replicas[standby].log_tail)  # fmt: skip
    assert replicas[standby].rayjob_creates("second") == 1
    assert RESUMING in replicas[standby].log_tail(10**7)
    assert sorted(j["metadata"]["name"] for j in items(kube_plane, "rayjobs", ns)) == [
        "tr-first",
        "tr-second",
    ]
    assert replicas[standby].rayjob_creates("first") == 0  # a finished run is left alone
