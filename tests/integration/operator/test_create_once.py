"""One apply, one run of the create handler; and were kopf to run it again, nothing doubles.

kopf runs a create handler again when the status the handler wrote reaches the watch before
kopf's own patch with its diff base and kopf stops waiting for that patch (its consistency
timeout). The operator waits long enough (kopf_consistency_seconds); with the wait turned off,
every create runs twice, and the second run must change nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.operator.conftest import TrainingNamespace
from tests.integration.operator.resources import apply, events_for, items, wait_phase
from tests.support.kube import KubePlane
from tests.support.operator_process import OperatorProcess
from tests.support.rayjob_executor import LocalRayJobExecutor

pytestmark = [pytest.mark.kube, pytest.mark.integration]

RUNS = [f"once-{i}" for i in range(4)]


def _apply_and_finish(plane: KubePlane, served: TrainingNamespace, log: Callable[[], str]) -> None:
    apply(plane, *(served.run(name) for name in RUNS))
    for name in RUNS:
        wait_phase(plane, name, served.name, "Succeeded", log=log)


def _rayjobs_created(process: OperatorProcess) -> float:
    text = process.get(process.metrics_url) or ""
    found = re.search(r"^starcast_operator_rayjobs_created_total (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


def test_one_apply_runs_the_create_handler_once(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    prepared_artifact: Callable[[str], None],
) -> None:
    _apply_and_finish(kube_plane, served, operator.log_tail)
    runs = {
        name: operator.handler_runs("create", "TrainingRun", name, served.name) for name in RUNS
    }
    assert runs == dict.fromkeys(RUNS, 1)


@pytest.fixture
def impatient_operator(operator: OperatorProcess, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The operator with kopf's consistency wait off, in place of the session's."""
    operator.stop()
    env = operator.env | {"STARCAST_OPERATOR_KOPF_CONSISTENCY_SECONDS": "0"}
    impatient = OperatorProcess(env, tmp_path / "impatient.log", "--standalone").start()
    try:
        yield impatient
    finally:
        impatient.stop()
        operator.start()


def test_a_second_create_run_changes_nothing(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    impatient_operator: OperatorProcess,
    executor: LocalRayJobExecutor,
    prepared_artifact: Callable[[str], None],
) -> None:
    ns = served.name
    _apply_and_finish(kube_plane, served, impatient_operator.log_tail)
    runs = {
        name: impatient_operator.handler_runs("create", "TrainingRun", name, ns) for name in RUNS
    }
    assert all(count >= 2 for count in runs.values()), runs  # the double run, reproduced
    assert sorted(j["metadata"]["name"] for j in items(kube_plane, "rayjobs", ns)) == [
        f"tr-{name}" for name in RUNS
    ]
    started = Counter(executor.started_jobs)
    assert all(started[f"{ns}/tr-{name}"] == 1 for name in RUNS), started
    assert _rayjobs_created(impatient_operator) == len(RUNS)
    for name in RUNS:
        reasons = Counter(e["reason"] for e in events_for(kube_plane, name, ns))
        assert reasons["Succeeded"] == 1 and all(n == 1 for n in reasons.values()), reasons
