"""`up` killed (SIGKILL) right after each of its changes reached the cloud, then run again:
the second run finishes the cluster and nothing exists twice."""

from __future__ import annotations

import signal

import pytest

from tests.integration.bootstrap.conftest import Cluster
from tests.integration.bootstrap.expectations import (
    complete,
    names_are_unique,
    resource_counts,
    up_mutations,
)
from tests.support.kube import KubePlane
from tests.support.openstack_cloud import PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.slow]
AGENTS = 1
STEPS = len(up_mutations(AGENTS))


@pytest.mark.parametrize("step", range(1, STEPS + 1))
def test_up_killed_after_a_step_is_finished_by_the_next_up(
    live_cluster: Cluster, kube_plane: KubePlane, step: int
) -> None:
    live_cluster.write(agents=AGENTS)
    cloud = live_cluster.cloud
    cloud.kill_client_after(step)
    process = live_cluster.spawn("up")
    cloud.set_client_pid(process.pid)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, output
    assert len(cloud.mutations()) == step  # the kill came right after the step was applied

    result = live_cluster.run("up")
    assert result.exit_code == 0, result.output
    assert resource_counts(cloud, live_cluster.name) == complete(agents=AGENTS)
    assert names_are_unique(cloud)
    assert len(cloud.mutations()) == STEPS  # each change made exactly once over both runs
    token = (live_cluster.state_dir / "token").read_text().strip()
    for secret in (token, PASSWORD, *cloud.state.tokens):
        assert secret not in output + result.output
