"""The CRDs, generated from the pydantic models: `starcast operator crds` prints them.

Kubernetes wants a structural OpenAPI v3 schema: every node typed, no `$ref`, no `anyOf` with
null, no `additionalProperties` beside `properties`. Pydantic's JSON schema is turned into one
here; CEL rules (`x-kubernetes-validations`) and list types come from the models'
`json_schema_extra`, so the models stay the single source of truth.
"""

from __future__ import annotations

from typing import Any, Final

import yaml
from pydantic import BaseModel

from starcast.operator import constants as c
from starcast.operator.models.common import CustomResourceKind, PrinterColumn
from starcast.operator.models.modelrelease import ModelReleaseSpec, ModelReleaseStatus
from starcast.operator.models.trainingrun import (
    IMMUTABLE_SPEC_MESSAGE,
    TrainingRunSpec,
    TrainingRunStatus,
)

Schema = dict[str, Any]

# Keys of pydantic's JSON schema that a CRD schema does not take.
_DROPPED_KEYS: Final = frozenset({"title", "$defs", "additionalProperties", "discriminator"})

TRAINING_RUN: Final = CustomResourceKind(
    kind=c.TRAINING_RUN_KIND,
    plural=c.TRAINING_RUN_PLURAL,
    short_names=[c.TRAINING_RUN_SHORT],
    description="Train and select a model on Ray: the operator runs it as a KubeRay RayJob and "
    "writes the winner's scores and the model's URI and sha256 into the status.",
    printer_columns=[
        PrinterColumn(name="Phase", type="string", json_path=".status.phase"),
        PrinterColumn(name="Winner", type="string", json_path=".status.metrics.winner"),
        PrinterColumn(name="RMSLE", type="string", json_path=".status.rmsle"),
        PrinterColumn(name="Model", type="string", json_path=".status.model.version"),
        PrinterColumn(name="Reason", type="string", json_path=".status.reason"),
        PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp"),
        PrinterColumn(name="Message", type="string", json_path=".status.message", priority=1),
        PrinterColumn(name="RayJob", type="string", json_path=".status.rayJobName", priority=1),
    ],
    root_validations=[
        {
            # Started = the RayJob exists; until then (waiting for KubeRay) the spec may change
            # and is acted on. Ended = Succeeded or Failed: an edit would be ignored, so it is
            # refused (a run that failed before its RayJob, on a missing Secret say, included).
            "rule": "!has(oldSelf.status) || ((!has(oldSelf.status.rayJobName)) && "
            "(!has(oldSelf.status.phase) || !(oldSelf.status.phase in ['Succeeded', 'Failed']))) "
            "|| self.spec == oldSelf.spec",
            "message": IMMUTABLE_SPEC_MESSAGE,
            "fieldPath": ".spec",
            "reason": "FieldValueForbidden",
        }
    ],
)
MODEL_RELEASE: Final = CustomResourceKind(
    kind=c.MODEL_RELEASE_KIND,
    plural=c.MODEL_RELEASE_PLURAL,
    short_names=[c.MODEL_RELEASE_SHORT],
    description="Roll a model out to the serving workers (Rolling or Canary), and roll it back "
    "when the rollout fails.",
    printer_columns=[
        PrinterColumn(name="Phase", type="string", json_path=".status.phase"),
        PrinterColumn(name="Version", type="string", json_path=".status.version"),
        PrinterColumn(name="Weight", type="integer", json_path=".status.weight"),
        PrinterColumn(name="Stable", type="string", json_path=".status.stableVersion"),
        PrinterColumn(name="Reason", type="string", json_path=".status.reason"),
        PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp"),
        PrinterColumn(name="Step", type="integer", json_path=".status.currentStep", priority=1),
        PrinterColumn(name="Message", type="string", json_path=".status.message", priority=1),
    ],
    root_validations=[
        {
            # Once the rollout began, a different model or target is a new ModelRelease.
            "rule": "!has(oldSelf.status) || !has(oldSelf.status.phase) "
            "|| oldSelf.status.phase == 'Pending' || self.spec == oldSelf.spec",
            "message": "a ModelRelease's spec is fixed once its rollout began: create a new "
            "ModelRelease (it supersedes this one)",
            "fieldPath": ".spec",
            "reason": "FieldValueForbidden",
        }
    ],
)


def _schemas() -> dict[str, tuple[CustomResourceKind, type[BaseModel], type[BaseModel]]]:
    return {
        c.TRAINING_RUN_PLURAL: (TRAINING_RUN, TrainingRunSpec, TrainingRunStatus),
        c.MODEL_RELEASE_PLURAL: (MODEL_RELEASE, ModelReleaseSpec, ModelReleaseStatus),
    }


def structural_schema(model: type[BaseModel]) -> Schema:
    """The model's JSON schema as a Kubernetes structural schema."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _convert(raw, raw.get("$defs", {}))


def _resolve(node: Schema, defs: dict[str, Schema]) -> Schema:
    """Inline a `$ref` (or pydantic's single-item `allOf`), keeping the referring node's keys."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    if "allOf" in node and len(node["allOf"]) == 1:
        return {
            **_resolve(node["allOf"][0], defs),
            **{k: v for k, v in node.items() if k != "allOf"},
        }
    return node


def _convert(node: Schema, defs: dict[str, Schema]) -> Schema:
    node = _resolve(node, defs)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option != {"type": "null"}]
        if len(options) != 1:
            raise ValueError(f"a CRD schema can't express a union of {options}")
        merged = {**_resolve(options[0], defs), **{k: v for k, v in node.items() if k != "anyOf"}}
        if merged.get("default", ...) is None:
            del merged["default"]
        return _convert(merged, defs)
    out: Schema = {k: v for k, v in node.items() if k not in _DROPPED_KEYS}
    if "properties" in node:
        out["type"] = "object"
        required = set(node.get("required", []))
        properties = {}
        for name, child in node["properties"].items():
            converted = _convert(child, defs)
            nullable = {"type": "null"} in child.get("anyOf", ())
            if (
                name not in required
                and not nullable  # absent means "none": a default would make it present
                and "default" not in converted
                and _all_defaulted(converted)
            ):
                # Spelled out, not `{}`: CEL rules are checked against the default as written.
                converted["default"] = {
                    key: sub["default"]
                    for key, sub in converted["properties"].items()
                    if "default" in sub
                }
            properties[name] = converted
        out["properties"] = properties
    elif node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _convert(node["additionalProperties"], defs)
    if "items" in node:
        out["items"] = _convert(node["items"], defs)
    return out


def _all_defaulted(schema: Schema) -> bool:
    """An object whose every field has a default (or is optional): `{}` is a valid value."""
    return schema.get("type") == "object" and "properties" in schema and not schema.get("required")


def custom_resource_definition(plural: str) -> Schema:
    """The CRD of one kind (`trainingruns`, `modelreleases`), as a dict."""
    kind, spec_model, status_model = _schemas()[plural]
    root: Schema = {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion of the object."},
            "kind": {"type": "string", "description": "Kind of the object."},
            "metadata": {"type": "object"},
            "spec": structural_schema(spec_model),
            "status": structural_schema(status_model),
        },
    }
    if kind.root_validations:
        root["x-kubernetes-validations"] = kind.root_validations
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{c.GROUP}",
            "labels": {c.LABEL_PART_OF: c.PART_OF},
        },
        "spec": {
            "group": c.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "shortNames": kind.short_names,
                "categories": [c.CATEGORY],
            },
            "versions": [
                {
                    "name": c.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        column.model_dump(by_alias=True, exclude_defaults=True)
                        for column in kind.printer_columns
                    ],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def kopf_peering_definition(*, clusterwide: bool) -> Schema:
    """kopf's peering CRD (kopf.dev/v1), so that of several operator replicas only one acts.

    kopf keeps each replica's heartbeat in the peering object's status, which has no fixed
    schema: the one place where unknown fields are preserved.
    """
    kind = "ClusterKopfPeering" if clusterwide else "KopfPeering"
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.kopf.dev", "labels": {c.LABEL_PART_OF: c.PART_OF}},
        "spec": {
            "group": "kopf.dev",
            "scope": "Cluster" if clusterwide else "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "status": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


class _PlainDumper(yaml.SafeDumper):
    """No `&id001` anchors for subschemas that happen to be the same object."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


HEADER: Final = (
    "# Generated by `starcast operator crds` from starcast/operator/models; do not edit.\n"
)


def crd_files() -> dict[str, str]:
    """File name -> YAML of every CRD, as committed under charts/starcast-operator/crds/."""
    documents = [custom_resource_definition(plural) for plural in _schemas()]
    documents += [kopf_peering_definition(clusterwide=flag) for flag in (False, True)]
    return {
        f"{doc['metadata']['name']}.yaml": HEADER
        + yaml.dump(doc, Dumper=_PlainDumper, sort_keys=False, width=100)
        for doc in documents
    }


def crds_yaml() -> str:
    """Every CRD in one multi-document YAML stream."""
    return "---\n".join(crd_files().values())
