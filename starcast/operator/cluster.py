"""The operator's calls to the Kubernetes API (the official client), with errors made domain ones.

kopf watches and dispatches; everything the handlers read or write goes through `Cluster`, so
the reconcile functions can be called directly by tests with a real API server behind them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

from cachetools import TTLCache
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from starcast.operator import constants as c
from starcast.operator.memo import FoundMemo

logger = logging.getLogger(__name__)

RETRIABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
REQUEST_TIMEOUT_S: Final = 30.0
DISCOVERY_MEMORY_S: Final = 10.0
# A burst of runs on one Secret reads it once; a changed Secret is seen within this.
SECRET_MEMORY_S: Final = 10.0
SECRET_MEMORY_SIZE: Final = 256
# The TrainingRuns this operator last read or wrote, newer than kopf's copy after its own writes.
RUN_MEMORY_S: Final = 600.0
RUN_MEMORY_SIZE: Final = 4096
# What a status write checks is still as read: what a racing sync's write would change.
GUARDED_STATUS_FIELDS: Final = ("phase", "rayJobName", "jobStatus", "jobDeploymentStatus")
MERGE_PATCH: Final = "application/merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"


class TransientError(Exception):
    """The API server could not answer now; the same call may succeed later."""


class ConflictError(Exception):
    """The object changed since it was read (resourceVersion precondition failed)."""


def _transient(error: ApiException | HTTPError | OSError, what: str) -> TransientError:
    detail = error.status if isinstance(error, ApiException) else type(error).__name__
    return TransientError(f"{what}: {detail}")


class Cluster:
    """Typed calls on the objects a TrainingRun involves."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self._api = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._rayjob_api_seen_at = float("-inf")
        self._secrets: FoundMemo[dict[str, str]] = FoundMemo(SECRET_MEMORY_SIZE, SECRET_MEMORY_S)
        self._runs: TTLCache[tuple[str, str], dict[str, Any]] = TTLCache(
            RUN_MEMORY_SIZE, RUN_MEMORY_S
        )
        self._lock = threading.Lock()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the API; None for 404, ConflictError for 409, TransientError when worth a retry."""
        try:
            return fn(*args, _request_timeout=REQUEST_TIMEOUT_S, **kwargs)
        except ApiException as error:
            if error.status == 404:
                return None
            if error.status == 409:
                raise ConflictError(f"{what}: {error.reason}") from error
            if error.status in RETRIABLE_STATUSES:
                raise _transient(error, what) from error
            raise
        except (HTTPError, OSError) as error:
            raise _transient(error, what) from error

    def rayjob_api_installed(self) -> bool:
        """Whether KubeRay's RayJob API is served (discovery: needs no RBAC of its own).

        A yes is remembered for a few seconds (a burst of syncs asks once); a no never is.
        """
        if time.monotonic() - self._rayjob_api_seen_at < DISCOVERY_MEMORY_S:
            return True
        installed = self._discover_rayjob_api()
        if installed:
            self._rayjob_api_seen_at = time.monotonic()
        return installed

    def _discover_rayjob_api(self) -> bool:
        try:
            resources = client.CustomObjectsApi(self._api).get_api_resources(
                c.RAY_GROUP, c.RAY_VERSION, _request_timeout=REQUEST_TIMEOUT_S
            )
        except ApiException as error:
            if error.status == 404:
                return False
            if error.status in RETRIABLE_STATUSES:
                raise _transient(error, "discovery of ray.io/v1") from error
            raise
        except (HTTPError, OSError) as error:
            raise _transient(error, "discovery of ray.io/v1") from error
        return any(resource.name == c.RAYJOB_PLURAL for resource in resources.resources or ())

    def rayjob_crd_removed(self) -> bool:
        """Whether KubeRay's RayJob CRD is gone or being deleted (its RayJobs go with it)."""
        crd = self._call(
            f"get CRD {c.RAYJOB_CRD}",
            client.ApiextensionsV1Api(self._api).read_custom_resource_definition,
            c.RAYJOB_CRD,
        )
        return crd is None or crd.metadata.deletion_timestamp is not None

    def get_rayjob(self, namespace: str, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._call(
            f"get RayJob {namespace}/{name}",
            self._custom.get_namespaced_custom_object,
            c.RAY_GROUP,
            c.RAY_VERSION,
            namespace,
            c.RAYJOB_PLURAL,
            name,
        )
        return found

    def create_rayjob(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        """Create the RayJob; None when one of that name exists already (the caller re-reads)."""
        namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
        try:
            created: dict[str, Any] = self._call(
                f"create RayJob {namespace}/{name}",
                self._custom.create_namespaced_custom_object,
                c.RAY_GROUP,
                c.RAY_VERSION,
                namespace,
                c.RAYJOB_PLURAL,
                manifest,
                field_manager=c.FIELD_MANAGER,
            )
        except ConflictError:
            return None
        return created

    def get_training_run(self, namespace: str, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._call(
            f"get TrainingRun {namespace}/{name}",
            self._custom.get_namespaced_custom_object,
            c.GROUP,
            c.VERSION,
            namespace,
            c.TRAINING_RUN_PLURAL,
            name,
        )
        self._remember(namespace, name, found)
        return found

    def last_seen_training_run(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The run as this operator last read or wrote it (None if not for a while)."""
        with self._lock:
            return self._runs.get((namespace, name))

    def _remember(self, namespace: str, name: str, body: dict[str, Any] | None) -> None:
        with self._lock:
            if body is None:
                self._runs.pop((namespace, name), None)
            else:
                self._runs[(namespace, name)] = without_managed_fields(body)

    def write_training_run_status(
        self,
        namespace: str,
        name: str,
        status: dict[str, Any],
        *,
        read_status: dict[str, Any] | None,
        resource_version: str,
    ) -> None:
        """Write the status if it is still the one read (else ConflictError).

        A status with a phase is guarded by JSON patch `test`s of its phase and RayJob fields, so
        that writes to the metadata in between (kopf's annotations) are no conflict; the first
        status, by resourceVersion. (Not a `test` of the whole status: the server compares the
        bytes of strings and numbers, and encodes them otherwise than Python does.)
        """
        what = f"write the status of TrainingRun {namespace}/{name}"
        # A `test` of null passes only where the field is absent (RFC 6902 can't say "absent").
        guards = (
            [
                {"op": "test", "path": f"/status/{key}", "value": read_status.get(key)}
                for key in GUARDED_STATUS_FIELDS
            ]
            if read_status and read_status.get("phase")
            else []
        )
        body: Any
        if guards:
            body = [*guards, {"op": "add", "path": "/status", "value": status}]
            content_type = JSON_PATCH
        else:
            body = {"metadata": {"resourceVersion": resource_version}, "status": status}
            content_type = MERGE_PATCH
        try:
            written: dict[str, Any] = self._call(
                what,
                self._custom.patch_namespaced_custom_object_status,
                c.GROUP,
                c.VERSION,
                namespace,
                c.TRAINING_RUN_PLURAL,
                name,
                body,
                field_manager=c.FIELD_MANAGER,
                _content_type=content_type,
            )
        except ConflictError:
            self.get_training_run(namespace, name)  # what the next attempt starts from
            raise
        except ApiException as error:
            # A failed `test` is a 422, as a status the schema refuses would be: tell them apart.
            if error.status != 422 or not guards:
                raise
            current = (self.get_training_run(namespace, name) or {}).get("status") or {}
            if any(
                current.get(key) != (read_status or {}).get(key) for key in GUARDED_STATUS_FIELDS
            ):
                raise ConflictError(f"{what}: the status changed since it was read") from error
            raise
        self._remember(namespace, name, written)

    def get_secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's data (still base64), or None when it does not exist.

        A Secret found is remembered for SECRET_MEMORY_S; one not found never is. Reads of one
        Secret at the same moment (a burst of runs) wait for the first one's answer.
        """
        return self._secrets.get((namespace, name), lambda: self._read_secret(namespace, name))

    def _read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        secret = self._call(
            f"get Secret {namespace}/{name}", self._core.read_namespaced_secret, name, namespace
        )
        if secret is None:
            return None
        data: dict[str, str] = secret.data or {}
        return data


def without_managed_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an object to keep in memory: without `managedFields`, often half its size."""
    metadata = {k: v for k, v in body.get("metadata", {}).items() if k != "managedFields"}
    return {**body, "metadata": metadata}


def api_client(pool_size: int) -> client.ApiClient:
    """A client from the in-cluster service account, or else the kubeconfig."""
    from kubernetes import config

    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)
