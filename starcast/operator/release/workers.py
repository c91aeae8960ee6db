"""Pure builders for what a ModelRelease applies to the worker Deployments.

The stable Deployment belongs to the serving chart: the operator server-side-applies only the
model fields (`STARCAST_MODEL_URI`, `STARCAST_MODEL_SHA256`, the pod label
`starcast.io/model-version`), the rolling update's maxSurge and maxUnavailable (the release's
`strategy.rolling`) and its claim annotation, under its own field manager; everything else
stays the chart's. The canary is a copy of
the stable Deployment's pod template with the candidate's model, owned by the ModelRelease.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Final

from starcast.operator import constants as c
from starcast.operator.models.modelrelease import ModelVersion, RollingStrategy

Manifest = dict[str, Any]

# Fields of the stable Deployment's spec the canary copies (the rest is the canary's own).
_COPIED_SPEC_FIELDS: Final = ("minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds")


class WorkersError(Exception):
    """The worker Deployment is not what a ModelRelease can roll a model onto."""


def worker_container(deployment: Manifest) -> Manifest:
    """The container that loads the model: the one named `worker`, or the only one."""
    containers: list[Manifest] = deployment["spec"]["template"]["spec"].get("containers", [])
    for container in containers:
        if container.get("name") == c.WORKER_CONTAINER:
            return container
    if len(containers) == 1:
        return containers[0]
    name = deployment["metadata"]["name"]
    raise WorkersError(
        f"Deployment {name} has {len(containers)} containers and none is named "
        f"{c.WORKER_CONTAINER!r}: name the model-loading container {c.WORKER_CONTAINER!r}"
    )


def _env(container: Manifest, name: str) -> str | None:
    for var in container.get("env") or ():
        if var.get("name") == name:
            value: str | None = var.get("value")
            return value
    return None


def deployed_model(deployment: Manifest) -> ModelVersion | None:
    """The model the Deployment's pod template carries, or None when it carries none."""
    container = worker_container(deployment)
    uri, sha256 = _env(container, c.ENV_MODEL_URI), _env(container, c.ENV_MODEL_SHA256)
    if not uri or not sha256:
        return None
    labels = deployment["spec"]["template"].get("metadata", {}).get("labels") or {}
    version = labels.get(c.LABEL_MODEL_VERSION) or sha256[:12]
    return ModelVersion(version=version, uri=uri, sha256=sha256)


def _model_env(model: ModelVersion) -> list[Manifest]:
    return [
        {"name": c.ENV_MODEL_URI, "value": model.uri},
        {"name": c.ENV_MODEL_SHA256, "value": model.sha256},
    ]


def _int_or_percent(value: str) -> int | str:
    """An IntOrString as the API server wants it: "25%" stays a string, "1" becomes 1."""
    return value if value.endswith("%") else int(value)


def _apply_body(
    deployment: Manifest, model: ModelVersion | None, release: str, rolling: RollingStrategy
) -> Manifest:
    meta = deployment["metadata"]
    spec: Manifest = {
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {
                "maxSurge": _int_or_percent(rolling.max_surge),
                "maxUnavailable": _int_or_percent(rolling.max_unavailable),
            },
        }
    }
    if model is not None:
        container = {"name": worker_container(deployment)["name"], "env": _model_env(model)}
        spec["template"] = {
            "metadata": {"labels": {c.LABEL_MODEL_VERSION: model.version}},
            "spec": {"containers": [container]},
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "annotations": {c.ANNOTATION_RELEASE: release},
        },
        "spec": spec,
    }


def model_apply(
    deployment: Manifest, model: ModelVersion, release: str, rolling: RollingStrategy
) -> Manifest:
    """The server-side apply body that puts `model` on the stable Deployment (and claims it).

    Every apply of the operator lists the same fields (the model, the rolling parameters, the
    claim): server-side apply drops the fields a manager stops listing.
    """
    return _apply_body(deployment, model, release, rolling)


def claim_apply(deployment: Manifest, release: str, rolling: RollingStrategy) -> Manifest:
    """The apply body that only claims the Deployment for `release`.

    It restates the model the Deployment carries now (server-side apply would drop it).
    """
    return _apply_body(deployment, deployed_model(deployment), release, rolling)


def canary_name(stable_name: str) -> str:
    return f"{stable_name}{c.CANARY_SUFFIX}"


def canary_replicas(stable_replicas: int, weight: int) -> int:
    """Canary pods so that they are `weight`% of all consumers of the queue.

    The stable Deployment keeps the replicas its HPA or KEDA gives it; the canary is added
    beside them: c / (stable + c) = weight / 100. At least one pod for any weight above 0.
    """
    if weight <= 0:
        return 0
    if weight >= 100:
        raise ValueError("weight 100 is a promotion, not a canary size")
    return max(1, math.ceil(stable_replicas * weight / (100 - weight)))


def served_share(stable_replicas: int, canary_replicas: int) -> int:
    """The canary's share of the queue's consumers, in percent (what it really serves)."""
    total = stable_replicas + canary_replicas
    return round(100 * canary_replicas / total) if total else 0


def canary_manifest(
    stable: Manifest, model: ModelVersion, replicas: int, owner: Manifest
) -> Manifest:
    """The canary Deployment: the stable pod template with the candidate's model."""
    meta = stable["metadata"]
    spec = stable["spec"]
    template = copy.deepcopy(spec["template"])
    labels = dict(template.get("metadata", {}).get("labels") or {})
    labels[c.LABEL_MODEL_VERSION] = model.version
    labels[c.LABEL_TRACK] = c.TRACK_CANARY
    template.setdefault("metadata", {})["labels"] = labels
    container = worker_container({"metadata": meta, "spec": {"template": template}})
    env = [
        var
        for var in container.get("env") or ()
        if var.get("name") not in (c.ENV_MODEL_URI, c.ENV_MODEL_SHA256)
    ]
    container["env"] = env + _model_env(model)
    selector = copy.deepcopy(spec["selector"])
    selector.setdefault("matchLabels", {})[c.LABEL_TRACK] = c.TRACK_CANARY
    deployment_labels = dict(meta.get("labels") or {})
    deployment_labels[c.LABEL_TRACK] = c.TRACK_CANARY
    # The chart's labels say Helm manages the stable Deployment; the canary is the operator's.
    deployment_labels[c.LABEL_MANAGED_BY] = c.MANAGER_NAME
    deployment_labels[c.LABEL_MODEL_RELEASE] = owner["metadata"]["name"]
    canary_spec: Manifest = {
        "replicas": replicas,
        "selector": selector,
        "template": template,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
    }
    for key in _COPIED_SPEC_FIELDS:
        if key in spec:
            canary_spec[key] = spec[key]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": canary_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": deployment_labels,
            "ownerReferences": [
                {
                    "apiVersion": c.API_VERSION,
                    "kind": c.MODEL_RELEASE_KIND,
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": canary_spec,
    }
