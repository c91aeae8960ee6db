"""One apply, one RayJob create and one Event per phase; no kopf state written on the run.

The operator's TrainingRun events only queue the run's key (starcast/operator/workqueue.py), so
the events of a run while it is reconciled, its own status writes included, never start a second
reconcile beside it; and kopf keeps no handler state on runs (no annotation, no finalizer), one
write per run fewer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import pytest

from starcast.operator import constants as c
from tests.integration.operator.conftest import TrainingNamespace
from tests.integration.operator.resources import apply, events_for, get, items, wait_phase
from tests.support.kube import KubePlane
from tests.support.operator_process import OperatorProcess
from tests.support.rayjob_executor import LocalRayJobExecutor

pytestmark = [pytest.mark.kube, pytest.mark.integration]

RUNS = [f"once-{i}" for i in range(4)]


def _rayjobs_created(process: OperatorProcess) -> float:
    text = process.get(process.metrics_url) or ""
    found = re.search(r"^starcast_operator_rayjobs_created_total (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


def test_one_apply_makes_one_rayjob_and_one_event_per_phase(
    kube_plane: KubePlane,
    served: TrainingNamespace,
    operator: OperatorProcess,
    executor: LocalRayJobExecutor,
    prepared_artifact: Callable[[str], None],
) -> None:
    ns = served.name
    created_before = _rayjobs_created(operator)
    apply(kube_plane, *(served.run(name) for name in RUNS))
    for name in RUNS:
        wait_phase(kube_plane, name, ns, "Succeeded", log=operator.log_tail)
    assert sorted(j["metadata"]["name"] for j in items(kube_plane, "rayjobs", ns)) == [
        f"tr-{name}" for name in RUNS
    ]
    started = Counter(executor.started_jobs)
    assert all(started[f"{ns}/tr-{name}"] == 1 for name in RUNS), started
    assert _rayjobs_created(operator) - created_before == len(RUNS)
    for name in RUNS:
        reasons = Counter(e["reason"] for e in events_for(kube_plane, name, ns))
        assert reasons["Succeeded"] == 1 and all(n == 1 for n in reasons.values()), reasons
        run = get(kube_plane, "trainingrun", name, ns)
        assert run is not None
        meta = run["metadata"]
        assert not meta.get("finalizers"), meta
        assert not [key for key in meta.get("annotations") or {} if c.KOPF_PREFIX in key], meta
