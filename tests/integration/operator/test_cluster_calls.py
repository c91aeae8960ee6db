"""The operator's own API calls against the real API server: status guards, memory, stale events.

The session's operator is stopped while these run, so that only the test writes the objects.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from starcast.operator.cluster import Cluster, ConflictError, without_managed_fields
from starcast.operator.models.trainingrun import TrainingRunSpec
from starcast.operator.rayjob import RunIdentity, StorageEnv, build_rayjob
from starcast.operator.reconcile import Context, sync_training_run
from starcast.operator.settings import OperatorSettings
from tests.integration.operator.conftest import TrainingNamespace
from tests.integration.operator.resources import apply, get
from tests.support.kube import KubePlane

pytestmark = [pytest.mark.kube, pytest.mark.integration]

# What Go's JSON encoder writes otherwise than Python's: `&`, `<`, `>` and non-ASCII text.
AWKWARD_MESSAGE = "helm repo add x && helm install <release> — naïve"


def _created(plane: KubePlane, ns: TrainingNamespace, name: str) -> dict[str, Any]:
    apply(plane, ns.run(name))
    found = get(plane, "trainingrun", name, ns.name)
    assert found is not None
    return found


def _pending(name: str) -> dict[str, Any]:
    return {
        "phase": "Pending",
        "rayJobName": f"tr-{name}",
        "conditions": [
            {
                "type": "KubeRayAvailable",
                "status": "True",
                "reason": "CRDInstalled",
                "message": AWKWARD_MESSAGE,
                "lastTransitionTime": "2026-12-01T00:00:00Z",
                "observedGeneration": 1,
            }
        ],
    }


def test_a_status_write_conflicts_with_a_status_write_only(
    kube_plane: KubePlane,
    training_namespace: TrainingNamespace,
    api_client: client.ApiClient,
    alone: None,
) -> None:
    ns, cluster = training_namespace.name, Cluster(api_client)
    body = _created(kube_plane, training_namespace, "guarded")
    cluster.write_training_run_status(
        ns,
        "guarded",
        _pending("guarded"),
        read_status=None,
        resource_version=body["metadata"]["resourceVersion"],
    )
    read = cluster.get_training_run(ns, "guarded")
    assert read is not None and read["status"]["conditions"][0]["message"] == AWKWARD_MESSAGE
    # kopf writes its annotations between a read and a write: no conflict.
    kube_plane.kubectl("annotate", "tr", "guarded", "-n", ns, "example.com/touched=yes")
    initializing = _pending("guarded") | {"jobDeploymentStatus": "Initializing"}
    cluster.write_training_run_status(
        ns,
        "guarded",
        initializing,
        read_status=read["status"],
        resource_version=read["metadata"]["resourceVersion"],
    )
    # A write from the same stale read now meets another status: a conflict.
    with pytest.raises(ConflictError):
        cluster.write_training_run_status(
            ns,
            "guarded",
            _pending("guarded") | {"jobDeploymentStatus": "Running", "phase": "Running"},
            read_status=read["status"],
            resource_version=read["metadata"]["resourceVersion"],
        )
    # A status the schema refuses is no conflict: the API server's error comes through.
    current = cluster.get_training_run(ns, "guarded")
    assert current is not None and current["status"]["jobDeploymentStatus"] == "Initializing"
    with pytest.raises(ApiException) as refused:
        cluster.write_training_run_status(
            ns,
            "guarded",
            initializing | {"phase": "Sleeping"},
            read_status=current["status"],
            resource_version=current["metadata"]["resourceVersion"],
        )
    assert refused.value.status == 422 and not isinstance(refused.value, ConflictError)
    # What the operator last wrote or read is what its next sync starts from (kept lean).
    assert cluster.last_seen_training_run(ns, "guarded") == without_managed_fields(current)
    assert "managedFields" in current["metadata"]


def test_a_late_rayjob_event_does_not_move_the_status_back(
    kube_plane: KubePlane,
    training_namespace: TrainingNamespace,
    api_client: client.ApiClient,
    kuberay_crds: None,
    alone: None,
) -> None:
    ns = training_namespace.name
    body = _created(kube_plane, training_namespace, "late")
    run = RunIdentity(namespace=ns, name="late", uid=body["metadata"]["uid"])
    spec = TrainingRunSpec.model_validate(body["spec"])
    manifest = build_rayjob(
        run, spec, image="trainer:test", out_uri="s3://x/y", storage=StorageEnv()
    )
    custom = client.CustomObjectsApi(api_client)
    custom.create_namespaced_custom_object("ray.io", "v1", ns, "rayjobs", manifest)
    initializing: dict[str, Any] = custom.patch_namespaced_custom_object_status(  # type: ignore[assignment]
        "ray.io", "v1", ns, "rayjobs", "tr-late",
        {"status": {"jobDeploymentStatus": "Initializing"}},
    )  # fmt: skip
    custom.patch_namespaced_custom_object_status(
        "ray.io", "v1", ns, "rayjobs", "tr-late",
        {"status": {"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"}},
    )  # fmt: skip
    ctx = Context(cluster=Cluster(api_client), settings=OperatorSettings())
    ctx.cluster.write_training_run_status(
        ns,
        "late",
        _pending("late"),
        read_status=None,
        resource_version=body["metadata"]["resourceVersion"],
    )  # as the sync that created the RayJob left it
    assert sync_training_run(ns, "late", ctx).phase == "Running"
    # The Initializing event, handled after the run's status says Running.
    outcome = sync_training_run(ns, "late", ctx, rayjob=initializing)
    assert outcome.phase == "Running"
    stored = get(kube_plane, "trainingrun", "late", ns)
    assert stored is not None and stored["status"]["jobDeploymentStatus"] == "Running"


def test_a_secret_found_is_remembered_briefly_and_one_missing_never(
    kube_plane: KubePlane, training_namespace: TrainingNamespace, api_client: client.ApiClient
) -> None:
    ns, cluster = training_namespace.name, Cluster(api_client)
    assert cluster.get_secret_data(ns, "later") is None
    kube_plane.kubectl("create", "secret", "generic", "later", "-n", ns, "--from-literal=k=v")
    found = cluster.get_secret_data(ns, "later")
    assert found == {"k": "dg=="}
    kube_plane.kubectl("delete", "secret", "later", "-n", ns)
    # A burst of runs on one Secret reads it once.
    assert cluster.get_secret_data(ns, "later") == found
