"""The operator's calls to the Kubernetes API (the official client), with errors made domain ones.

kopf watches and dispatches; everything the handlers read or write goes through `Cluster`, so
the reconcile functions can be called directly by tests with a real API server behind them.
"""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from typing import Any, Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from starcast.operator import constants as c

logger = logging.getLogger(__name__)

RETRIABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
REQUEST_TIMEOUT_S: Final = 30.0
EVENT_MESSAGE_LIMIT: Final = 1024


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
        """Whether KubeRay's RayJob API is served (discovery: needs no RBAC of its own)."""
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
        return found

    def write_training_run_status(
        self, namespace: str, name: str, resource_version: str, status: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Replace the status if the object is still at `resource_version` (else ConflictError)."""
        body = {"metadata": {"resourceVersion": resource_version}, "status": status}
        written: dict[str, Any] | None = self._call(
            f"write the status of TrainingRun {namespace}/{name}",
            self._custom.patch_namespaced_custom_object_status,
            c.GROUP,
            c.VERSION,
            namespace,
            c.TRAINING_RUN_PLURAL,
            name,
            body,
            field_manager=c.FIELD_MANAGER,
        )
        return written

    def post_event(self, involved: dict[str, str], type_: str, reason: str, message: str) -> None:
        """A core/v1 Event about `involved` (apiVersion, kind, namespace, name, uid)."""
        now = datetime.now(UTC)
        event = client.CoreV1Event.from_dict(
            {
                "metadata": {
                    "generateName": f"{involved['name']}.",
                    "namespace": involved["namespace"],
                },
                "involvedObject": involved,
                "type": type_,
                "reason": reason,
                "message": message[:EVENT_MESSAGE_LIMIT],
                "source": {"component": c.MANAGER_NAME},
                "reportingComponent": c.MANAGER_NAME,
                "reportingInstance": socket.gethostname(),
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            }
        )
        self._call(
            f"post an Event on {involved['namespace']}/{involved['name']}",
            self._core.create_namespaced_event,
            involved["namespace"],
            event,
        )

    def get_secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's data (still base64), or None when it does not exist."""
        secret = self._call(
            f"get Secret {namespace}/{name}", self._core.read_namespaced_secret, name, namespace
        )
        if secret is None:
            return None
        data: dict[str, str] = secret.data or {}
        return data


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
