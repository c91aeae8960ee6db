"""Peering asked for: the object kopf's replicas meet in exists before kopf starts, or is made.

kopf, told a peering name, pauses every watch until that (Cluster)KopfPeering shows up, and
says nothing while it waits: the operator would look dead. So the operator checks first, creates
a missing peering object (as the chart does), and refuses to start with the one command that
fixes it when it can't (kopf's CRD absent, or no right to create the object).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from starcast.operator import constants as c

logger = logging.getLogger(__name__)

KOPF_GROUP: Final = "kopf.dev"
KOPF_VERSION: Final = "v1"
INSTALL_CRDS: Final = "starcast operator crds | kubectl apply --server-side -f -"


class PeeringUnavailableError(Exception):
    """Peering was asked for and can't work: the message says what is missing and the fix."""


@dataclass(frozen=True)
class PeeringObject:
    """One object kopf peers through: cluster-wide, or one per watched namespace."""

    name: str
    namespace: str | None

    @property
    def kind(self) -> str:
        return "ClusterKopfPeering" if self.namespace is None else "KopfPeering"

    @property
    def plural(self) -> str:
        return self.kind.lower() + "s"

    def manifest(self) -> dict[str, object]:
        meta: dict[str, object] = {"name": self.name, "labels": {c.LABEL_PART_OF: c.PART_OF}}
        if self.namespace is not None:
            meta["namespace"] = self.namespace
        return {"apiVersion": f"{KOPF_GROUP}/{KOPF_VERSION}", "kind": self.kind, "metadata": meta}

    def create_command(self) -> str:
        where = f" -n {self.namespace}" if self.namespace else ""
        return (
            f"kubectl create{where} -f - <<< "
            f'\'{{"apiVersion": "{KOPF_GROUP}/{KOPF_VERSION}", "kind": "{self.kind}", '
            f'"metadata": {{"name": "{self.name}"}}}}\''
        )

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


def peering_objects(name: str, namespaces: list[str]) -> list[PeeringObject]:
    """What kopf peers through: a ClusterKopfPeering when cluster-wide, else one per namespace."""
    if not namespaces:
        return [PeeringObject(name, None)]
    return [PeeringObject(name, namespace) for namespace in namespaces]


def ensure_peering(api: client.ApiClient, name: str, namespaces: list[str]) -> list[str]:
    """Create the missing peering objects; what was created. Raises PeeringUnavailableError."""
    custom = client.CustomObjectsApi(api)
    created = []
    for obj in peering_objects(name, namespaces):
        try:
            if obj.namespace is None:
                custom.get_cluster_custom_object(KOPF_GROUP, KOPF_VERSION, obj.plural, obj.name)
            else:
                custom.get_namespaced_custom_object(
                    KOPF_GROUP, KOPF_VERSION, obj.namespace, obj.plural, obj.name
                )
            continue
        except ApiException as error:
            if error.status != 404:
                raise PeeringUnavailableError(
                    f"peering {name!r} is asked for, and reading {obj} failed ({error.status} "
                    f"{error.reason}); run without --peering (standalone) or fix the access"
                ) from error
        _create(custom, obj)
        created.append(str(obj))
        logger.info("created %s: peering was asked for and it did not exist", obj)
    return created


def _create(custom: client.CustomObjectsApi, obj: PeeringObject) -> None:
    try:
        if obj.namespace is None:
            custom.create_cluster_custom_object(
                KOPF_GROUP, KOPF_VERSION, obj.plural, obj.manifest()
            )
        else:
            custom.create_namespaced_custom_object(
                KOPF_GROUP, KOPF_VERSION, obj.namespace, obj.plural, obj.manifest()
            )
    except ApiException as error:
        if error.status == 409:
            return  # a peer made it meanwhile
        if error.status == 404:
            raise PeeringUnavailableError(
                f"peering {obj.name!r} is asked for, but kopf's peering CRDs are not installed: "
                f"{INSTALL_CRDS} (or run without --peering, standalone)"
            ) from error
        raise PeeringUnavailableError(
            f"peering is asked for, {obj} does not exist and creating it failed ({error.status} "
            f"{error.reason}): {obj.create_command()}"
        ) from error
