"""The least privilege the operator runs with, as data: its Role and ClusterRole rules.

Per watched namespace (a Role, or the ClusterRole below bound by a RoleBinding there): its own
kinds and their status, RayJobs (create, never delete: the garbage collector does, through the
owner reference), reading one Secret by name, Events, kopf's namespaced peering. Cluster-wide,
read-only: CRDs (kopf notices KubeRay being installed) and namespaces. Nothing else: no Secrets
outside the watched namespaces, no list of Secrets, no Deployments, no delete of anything.
"""

from __future__ import annotations

from typing import Any, Final

from starcast.operator import constants as c

Rule = dict[str, list[str]]

READ: Final = ["get", "list", "watch"]

NAMESPACED_RULES: Final[list[Rule]] = [
    {
        "apiGroups": [c.GROUP],
        "resources": [c.TRAINING_RUN_PLURAL, c.MODEL_RELEASE_PLURAL],
        "verbs": [*READ, "patch"],
    },
    {
        "apiGroups": [c.GROUP],
        "resources": [f"{c.TRAINING_RUN_PLURAL}/status", f"{c.MODEL_RELEASE_PLURAL}/status"],
        "verbs": ["get", "patch", "update"],
    },
    # blockOwnerDeletion on the RayJob's owner reference needs this where the
    # OwnerReferencesPermissionEnforcement admission plugin is on (OpenShift, for one).
    {
        "apiGroups": [c.GROUP],
        "resources": [f"{c.TRAINING_RUN_PLURAL}/finalizers"],
        "verbs": ["update"],
    },
    {"apiGroups": [c.RAY_GROUP], "resources": [c.RAYJOB_PLURAL], "verbs": [*READ, "create"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"], "verbs": [*READ, "patch"]},
]

CLUSTER_RULES: Final[list[Rule]] = [
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "verbs": READ,
    },
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ},
    {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"], "verbs": [*READ, "patch"]},
]


def manifests(
    *, service_account: str, namespace: str, watched: list[str], name: str = c.MANAGER_NAME
) -> list[dict[str, Any]]:
    """ServiceAccount, ClusterRoles and bindings: an operator in `namespace` watching `watched`."""
    namespaced_role = f"{name}-namespaced"
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": service_account, "namespace": namespace},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": namespaced_role},
            "rules": NAMESPACED_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": CLUSTER_RULES,
        },
        _binding("ClusterRoleBinding", name, name, service_account, namespace, None),
    ]
    docs += [
        _binding("RoleBinding", name, namespaced_role, service_account, namespace, ns)
        for ns in watched
    ]
    return docs


def _binding(
    kind: str, name: str, role: str, service_account: str, sa_namespace: str, namespace: str | None
) -> dict[str, Any]:
    metadata: dict[str, str] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [
            {"kind": "ServiceAccount", "name": service_account, "namespace": sa_namespace}
        ],
    }
