"""The real node's `down` leaves nothing on the machine (hack/kube-node.sh).

No process, mount, network namespace, link, iptables rule, cgroup or changed sysctl outlives
it, though it ran real pods (CoreDNS and Traefik, each in a network namespace of its own
with a veth on the node's bridge, and kube-proxy's rules for their Services).
"""

from __future__ import annotations

import json

import pytest

from tests.support.real_node import host_state, real_cluster_running

pytestmark = [pytest.mark.kube, pytest.mark.slow]


@pytest.mark.timeout(3600)  # the node's pieces build here when no e2e test built them first
def test_a_stopped_node_leaves_nothing_behind(pytestconfig: pytest.Config) -> None:
    before = host_state("starcast-kube-node-")
    with real_cluster_running(pytestconfig, images=()) as cluster:
        during = host_state("starcast-kube-node-")
        pods = json.loads(
            cluster.plane.kubectl("-n", "kube-system", "get", "pods", "-o", "json").stdout
        )["items"]
        assert {
            p["metadata"]["labels"].get(
                "k8s-app", p["metadata"]["labels"].get("app.kubernetes.io/name")
            )
            for p in pods
        } == {"kube-dns", "traefik"}
        # What it must clean up was really there.
        assert during.netns - before.netns, "no pod network namespace while the node ran"
        assert during.links - before.links, "no bridge or veth while the node ran"
        assert any(
            "KUBE-SERVICES" in rule for rule in during.iptables_rules - before.iptables_rules
        )
        assert during.cgroups and during.processes
    after = host_state("starcast-kube-node-")
    assert after == before
