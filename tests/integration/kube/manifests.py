"""Small manifest builders for the smoke tests (JSON is valid kubectl input)."""

from __future__ import annotations

import json
from typing import Any, Final

PAUSE_IMAGE: Final = "registry.k8s.io/pause:3.10"


def dump(*objects: dict[str, Any]) -> str:
    """Objects as a kubectl-readable List."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})


def deployment(
    name: str, replicas: int = 3, image: str = PAUSE_IMAGE, cpu: str = "100m"
) -> dict[str, Any]:
    """A Deployment of ``replicas`` pause pods requesting ``cpu`` each."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "resources": {"requests": {"cpu": cpu, "memory": "32Mi"}},
                        }
                    ]
                },
            },
        },
    }


def pod(name: str, cpu: str) -> dict[str, Any]:
    """A bare pause Pod requesting ``cpu``."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": "app", "image": PAUSE_IMAGE, "resources": {"requests": {"cpu": cpu}}}
            ]
        },
    }


def config_map(
    name: str, data: dict[str, str], owner: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A ConfigMap, optionally owned by ``owner`` (an object as read from the API)."""
    metadata: dict[str, Any] = {"name": name}
    if owner is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": owner["apiVersion"],
                "kind": owner["kind"],
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
            }
        ]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def role(name: str, resources: list[str], verbs: list[str]) -> dict[str, Any]:
    """A namespaced Role granting ``verbs`` on core-group ``resources``."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": resources, "verbs": verbs}],
    }


def role_binding(name: str, role: str, service_account: str, namespace: str) -> dict[str, Any]:
    """A RoleBinding of ``role`` to the ServiceAccount ``namespace/service_account``."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }
