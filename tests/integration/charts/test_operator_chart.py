"""starcast-operator: lint and render per scenario, install under restricted, RBAC as tested.

The RBAC is checked, not assumed: `kubectl auth can-i --as=` the chart's ServiceAccount for what
the operator needs (allowed) and for what it must never do (denied). Run with -s to see the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from starcast.operator import rbac
from tests.support.charts import (
    OPERATOR_CHART,
    find,
    kinds,
    pod_specs,
    render,
    restrict_namespace,
    scenarios,
)
from tests.support.kube import KubePlane
from tests.support.rbac import NEVER, answers

pytestmark = pytest.mark.kube

SCENARIOS = scenarios(OPERATOR_CHART)
RELEASE = "starcast-operator"

# What the operator does in a namespace it watches ({ns}).
NEEDED = (
    ("watch", "trainingruns.starcast.io", "-n", "{ns}"),
    ("patch", "trainingruns.starcast.io", "--subresource=status", "-n", "{ns}"),
    ("patch", "modelreleases.starcast.io", "--subresource=status", "-n", "{ns}"),
    ("create", "rayjobs.ray.io", "-n", "{ns}"),
    ("watch", "rayjobs.ray.io", "-n", "{ns}"),
    ("patch", "deployments.apps", "-n", "{ns}"),
    ("create", "deployments.apps", "-n", "{ns}"),
    ("delete", "deployments.apps", "-n", "{ns}"),  # the canary a ModelRelease owns
    ("update", "trainingruns.starcast.io", "--subresource=finalizers", "-n", "{ns}"),
    ("list", "replicasets.apps", "-n", "{ns}"),
    ("list", "pods", "-n", "{ns}"),
    ("get", "secrets", "-n", "{ns}"),
    ("create", "events", "-n", "{ns}"),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
    ("list", "namespaces"),
)
# What it does not need even in its namespaces: RayJobs go by owner references.
NOT_NEEDED = (
    ("list", "secrets", "-n", "{ns}"),
    ("watch", "secrets", "-n", "{ns}"),
    ("delete", "rayjobs.ray.io", "-n", "{ns}"),
    ("delete", "trainingruns.starcast.io", "-n", "{ns}"),
    ("update", "trainingruns.starcast.io", "-n", "{ns}"),  # status and finalizers only
    ("delete", "pods", "-n", "{ns}"),
    ("create", "customresourcedefinitions.apiextensions.k8s.io"),
)


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_lint_strict_passes(kube_plane: KubePlane, values: Path) -> None:
    result = kube_plane.helm("lint", "--strict", str(OPERATOR_CHART), "--values", str(values))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_the_default_renders_a_namespaced_operator(kube_plane: KubePlane) -> None:
    objects = [o for o in render(kube_plane, OPERATOR_CHART, release=RELEASE)
               if o["kind"] != "CustomResourceDefinition"]  # fmt: skip
    assert kinds(objects) == [
        ("ClusterRole", "starcast-operator-cluster"),
        ("ClusterRoleBinding", "starcast-operator-cluster"),
        ("Deployment", "starcast-operator"),
        ("Role", "starcast-operator"),
        ("RoleBinding", "starcast-operator"),
        ("Service", "starcast-operator-metrics"),
        ("ServiceAccount", "starcast-operator"),
    ]
    container = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["starcast", "operator", "run"]
    assert container["args"] == ["--standalone"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STARCAST_OPERATOR_NAMESPACES"] == '["starcast"]'
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    cluster_rules = find(objects, "ClusterRole")["rules"]
    assert {r for rule in cluster_rules for r in rule["resources"]} == {
        "customresourcedefinitions", "namespaces"
    }  # fmt: skip


def test_the_crds_come_with_the_chart(kube_plane: KubePlane) -> None:
    crds = {o["metadata"]["name"] for o in render(kube_plane, OPERATOR_CHART)
            if o["kind"] == "CustomResourceDefinition"}  # fmt: skip
    assert {"trainingruns.starcast.io", "modelreleases.starcast.io",
            "kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"} <= crds  # fmt: skip


def _covers(granted: list[dict[str, Any]], needed: list[dict[str, list[str]]]) -> list[str]:
    """The (group, resource, verb) triples of ``needed`` that ``granted`` does not allow."""
    allowed = {
        (group, resource, verb)
        for rule in granted
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    return [
        f"{group}/{resource}: {verb}"
        for rule in needed
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        if (group, resource, verb) not in allowed
    ]


def test_the_chart_grants_what_the_operator_package_declares(kube_plane: KubePlane) -> None:
    values = OPERATOR_CHART / "ci" / "peered-values.yaml"
    objects = render(kube_plane, OPERATOR_CHART, "--values", str(values), release=RELEASE)
    assert _covers(find(objects, "Role")["rules"], rbac.NAMESPACED_RULES) == []
    cluster_wide = OPERATOR_CHART / "ci" / "cluster-wide-values.yaml"
    cluster = render(kube_plane, OPERATOR_CHART, "--values", str(cluster_wide), release=RELEASE)
    granted = [r for o in cluster if o["kind"] == "ClusterRole" for r in o["rules"]]
    assert _covers(granted, rbac.CLUSTER_RULES) == []


def test_peered_replicas_get_peering_and_a_pdb(kube_plane: KubePlane) -> None:
    values = OPERATOR_CHART / "ci" / "peered-values.yaml"
    objects = render(kube_plane, OPERATOR_CHART, "--values", str(values), release=RELEASE)
    assert find(objects, "KopfPeering")["metadata"]["name"] == "starcast-operator"
    assert find(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    deployment = find(objects, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "args" not in container
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STARCAST_OPERATOR_PEERING"] == "starcast-operator"
    result = kube_plane.helm("template", "x", str(OPERATOR_CHART), "--set", "replicaCount=2",
                             check=False)  # fmt: skip
    assert result.returncode != 0 and "needs peering.enabled=true" in result.stderr


def test_cluster_wide_uses_cluster_roles_and_cluster_peering(kube_plane: KubePlane) -> None:
    values = OPERATOR_CHART / "ci" / "cluster-wide-values.yaml"
    objects = render(kube_plane, OPERATOR_CHART, "--values", str(values), release=RELEASE)
    assert not [o for o in objects if o["kind"] in ("Role", "RoleBinding")]
    find(objects, "ClusterKopfPeering")
    find(objects, "ServiceMonitor")
    container = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STARCAST_OPERATOR_NAMESPACES"] == "[]"


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_the_pod_meets_the_restricted_profile(kube_plane: KubePlane, values: Path) -> None:
    for name, spec in pod_specs(render(kube_plane, OPERATOR_CHART, "--values", str(values))):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        context = spec["containers"][0]["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"]
        assert context["capabilities"] == {"drop": ["ALL"]}


def _table(title: str, table: dict[str, bool]) -> str:
    rows = "\n".join(
        f"  {'yes' if allowed else 'no '}  {request}" for request, allowed in table.items()
    )
    return f"{title}\n{rows}"


def test_rbac_watching_namespaces_allows_what_it_needs_there_and_nothing_else(
    kube_plane: KubePlane, kube_namespace: str, operator_crds: None
) -> None:
    ns = kube_namespace
    restrict_namespace(kube_plane, ns)
    watched = f"{ns}-ml"
    other = f"{ns}-other"
    for extra in (watched, other):
        kube_plane.kubectl("create", "namespace", extra)
    try:
        kube_plane.helm(
            "install", RELEASE, str(OPERATOR_CHART), "-n", ns, "--wait", "--timeout=120s",
            "--set", f"watch.namespaces={{{ns},{watched}}}",
        )  # fmt: skip
        kube_plane.kubectl("rollout", "status", f"deployment/{RELEASE}", "-n", ns,
                           "--timeout=120s")  # fmt: skip
        user = f"system:serviceaccount:{ns}:{RELEASE}"
        allowed = answers(kube_plane, user, NEEDED, watched) | answers(kube_plane, user, NEEDED, ns)
        denied = (
            answers(kube_plane, user, NOT_NEEDED + NEVER, watched)
            | answers(kube_plane, user, NEEDED[:-2], other)  # a namespace it does not watch
        )
        print("\n" + _table(f"{user} (watching {ns}, {watched}) allowed:", allowed))
        print(_table("denied:", denied))
        assert all(allowed.values()), allowed
        assert not any(denied.values()), denied
    finally:
        kube_plane.helm("uninstall", RELEASE, "-n", ns, check=False)  # its ClusterRole too
        for extra in (watched, other):
            kube_plane.kubectl("delete", "namespace", extra, "--wait=false")


def test_rbac_cluster_wide_reads_secrets_by_name_only(
    kube_plane: KubePlane, kube_namespace: str, operator_crds: None
) -> None:
    ns = kube_namespace
    release = f"op-{ns[-6:]}"  # cluster-scoped names must not collide across tests
    kube_plane.helm(
        "install", release, str(OPERATOR_CHART), "-n", ns,
        "--values", str(OPERATOR_CHART / "ci" / "cluster-wide-values.yaml"),
        "--set", "metrics.serviceMonitor.enabled=false",
    )  # fmt: skip
    try:
        user = f"system:serviceaccount:{ns}:{release}-starcast-operator"
        allowed = answers(kube_plane, user, NEEDED, "default")
        # Watching every namespace means reading a run's Secret by name in any of them (the
        # documented cost of watch.clusterWide); listing or watching Secrets stays denied.
        never = tuple(r for r in NEVER if r != ("get", "secrets", "-n", "kube-system"))
        denied = answers(kube_plane, user, NOT_NEEDED + never, "default")
        print("\n" + _table(f"{user} (cluster-wide) allowed:", allowed))
        print(_table("denied:", denied))
        assert all(allowed.values()), allowed
        assert not any(denied.values()), denied
    finally:
        kube_plane.helm("uninstall", release, "-n", ns)
