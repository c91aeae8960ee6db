"""The API calls of a ModelRelease: Deployments (server-side apply), pods, the release itself."""

from __future__ import annotations

from typing import Any, Final

from kubernetes import client

from starcast.operator import constants as c
from starcast.operator.cluster import Cluster

Manifest = dict[str, Any]
APPLY_CONTENT_TYPE: Final = "application/apply-patch+yaml"


class ReleaseCluster(Cluster):
    """`Cluster` plus what a ModelRelease reads and writes."""

    def __init__(self, api_client: client.ApiClient) -> None:
        super().__init__(api_client)
        self._apps = client.AppsV1Api(api_client)
        self._pods = client.CoreV1Api(api_client)
        self._objects = client.CustomObjectsApi(api_client)

    def _sanitized(self, obj: Any) -> Manifest:
        data: Manifest = self._api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return data

    def worker_deployments(self, namespace: str, release: str) -> list[Manifest]:
        """The serving release's worker Deployments (the canaries excluded)."""
        selector = (
            f"{c.LABEL_INSTANCE}={release},{c.LABEL_COMPONENT}={c.WORKER_COMPONENT},"
            f"!{c.LABEL_TRACK}"
        )
        found = self._call(
            f"list worker Deployments of {namespace}/{release}",
            self._apps.list_namespaced_deployment,
            namespace,
            label_selector=selector,
        )
        return [self._sanitized(item) for item in (found.items if found else ())]

    def get_deployment(self, namespace: str, name: str) -> Manifest | None:
        found = self._call(
            f"get Deployment {namespace}/{name}",
            self._apps.read_namespaced_deployment,
            name,
            namespace,
        )
        return None if found is None else self._sanitized(found)

    def apply_deployment(self, body: Manifest) -> Manifest:
        """Server-side apply under the operator's field manager (forcing: the fields are ours)."""
        meta = body["metadata"]
        applied = self._call(
            f"apply Deployment {meta['namespace']}/{meta['name']}",
            self._apps.patch_namespaced_deployment,
            meta["name"],
            meta["namespace"],
            body,
            field_manager=c.FIELD_MANAGER,
            force=True,
            _content_type=APPLY_CONTENT_TYPE,
        )
        return self._sanitized(applied)

    def delete_deployment(self, namespace: str, name: str) -> None:
        self._call(
            f"delete Deployment {namespace}/{name}",
            self._apps.delete_namespaced_deployment,
            name,
            namespace,
            propagation_policy="Background",
        )

    def pods(self, namespace: str, match_labels: dict[str, str]) -> list[Manifest]:
        selector = ",".join(f"{key}={value}" for key, value in sorted(match_labels.items()))
        found = self._call(
            f"list pods {selector} in {namespace}",
            self._pods.list_namespaced_pod,
            namespace,
            label_selector=selector,
        )
        return [self._sanitized(item) for item in (found.items if found else ())]

    def get_model_release(self, namespace: str, name: str) -> Manifest | None:
        found: Manifest | None = self._call(
            f"get ModelRelease {namespace}/{name}",
            self._objects.get_namespaced_custom_object,
            c.GROUP,
            c.VERSION,
            namespace,
            c.MODEL_RELEASE_PLURAL,
            name,
        )
        return found

    def write_model_release_status(
        self, namespace: str, name: str, resource_version: str, status: Manifest
    ) -> Manifest | None:
        """Replace the status if the object is still at `resource_version` (else ConflictError)."""
        body = {"metadata": {"resourceVersion": resource_version}, "status": status}
        written: Manifest | None = self._call(
            f"write the status of ModelRelease {namespace}/{name}",
            self._objects.patch_namespaced_custom_object_status,
            c.GROUP,
            c.VERSION,
            namespace,
            c.MODEL_RELEASE_PLURAL,
            name,
            body,
            field_manager=c.FIELD_MANAGER,
        )
        return written

    def remove_annotation(self, namespace: str, name: str, key: str) -> None:
        """Drop a user's action annotation once it was acted on (JSON merge patch)."""
        self._call(
            f"remove {key} from ModelRelease {namespace}/{name}",
            self._objects.patch_namespaced_custom_object,
            c.GROUP,
            c.VERSION,
            namespace,
            c.MODEL_RELEASE_PLURAL,
            name,
            {"metadata": {"annotations": {key: None}}},
        )

    def training_runs(self, namespace: str) -> list[Manifest]:
        found = self._call(
            f"list TrainingRuns in {namespace}",
            self._objects.list_namespaced_custom_object,
            c.GROUP,
            c.VERSION,
            namespace,
            c.TRAINING_RUN_PLURAL,
        )
        items: list[Manifest] = (found or {}).get("items", [])
        return items

    def create_model_release(self, namespace: str, manifest: Manifest) -> None:
        """Create it; ConflictError when one of that name exists."""
        self._call(
            f"create ModelRelease {namespace}/{manifest['metadata']['name']}",
            self._objects.create_namespaced_custom_object,
            c.GROUP,
            c.VERSION,
            namespace,
            c.MODEL_RELEASE_PLURAL,
            manifest,
            field_manager=c.FIELD_MANAGER,
        )

    def _patch_status(self, plural: str, namespace: str, name: str, status: Manifest) -> None:
        self._call(
            f"patch the status of {plural} {namespace}/{name}",
            self._objects.patch_namespaced_custom_object_status,
            c.GROUP,
            c.VERSION,
            namespace,
            plural,
            name,
            {"status": status},
            field_manager=c.FIELD_MANAGER,
        )

    def patch_model_release_status(self, namespace: str, name: str, status: Manifest) -> None:
        """Merge `status` into the ModelRelease's (no precondition: these keys are the gate's)."""
        self._patch_status(c.MODEL_RELEASE_PLURAL, namespace, name, status)

    def patch_training_run_status(self, namespace: str, name: str, status: Manifest) -> None:
        """Merge `status` into the TrainingRun's (its reconcile is done: the run succeeded)."""
        self._patch_status(c.TRAINING_RUN_PLURAL, namespace, name, status)
