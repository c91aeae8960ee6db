"""A CRD's structural schema is enforced by the real API server, with its field errors."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.kube import manifests
from tests.support.kube import KubePlane

pytestmark = pytest.mark.kube


def _widget_crd(group: str) -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "required": ["size"],
        "properties": {
            "size": {"type": "integer", "minimum": 1, "maximum": 10},
            "color": {"type": "string", "enum": ["red", "blue"]},
            "maxSize": {"type": "integer"},
        },
        "x-kubernetes-validations": [
            {
                "rule": "!has(self.maxSize) || self.size <= self.maxSize",
                "message": "size must not exceed maxSize",
            }
        ],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {"spec": spec_schema},
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def widget_api(kube_plane: KubePlane) -> Iterator[str]:
    """A Widget CRD in an API group of its own (CRDs are cluster-wide); yields apiVersion.

    One for the module: each test creates its objects in its own namespace.
    """
    group = f"w{uuid.uuid4().hex[:8]}.smoke.starcast.test"
    crd = _widget_crd(group)
    kube_plane.kubectl("apply", "-f", "-", input=manifests.dump(crd))
    try:
        kube_plane.kubectl(
            "wait", "--for=condition=Established", f"crd/widgets.{group}", "--timeout=60s"
        )
        yield f"{group}/v1"
    finally:
        kube_plane.kubectl("delete", f"crd/widgets.{group}", "--wait=false")


def _widget(api_version: str, name: str, spec: dict[str, Any]) -> str:
    return manifests.dump(
        {"apiVersion": api_version, "kind": "Widget", "metadata": {"name": name}, "spec": spec}
    )


def _create(
    kube_plane: KubePlane, namespace: str, manifest: str, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    # --validate=false: kubectl skips its own client-side schema check, so what fails
    # is the API server's validation, as it is for the operator's clients.
    return kube_plane.kubectl(
        "create", "--validate=false", "-n", namespace, "-f", "-", input=manifest, check=check
    )


def test_a_valid_object_is_stored(
    kube_plane: KubePlane, kube_namespace: str, widget_api: str
) -> None:
    _create(kube_plane, kube_namespace, _widget(widget_api, "good", {"size": 3, "color": "red"}))
    stored = kube_plane.kubectl_json("get", "widgets", "good", "-n", kube_namespace)
    assert stored["spec"] == {"size": 3, "color": "red"}


@pytest.mark.parametrize(
    ("spec", "field_error"),
    [
        (
            {"size": 20},
            "spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10",
        ),
        (
            {"size": 2, "color": "green"},
            'spec.color: Unsupported value: "green": supported values: "red", "blue"',
        ),
        ({"color": "red"}, "spec.size: Required value"),
        ({"size": "big"}, 'spec.size: Invalid value: "string": spec.size in body must be of type'),
        ({"size": 5, "maxSize": 4}, "spec: Invalid value: size must not exceed maxSize"),
    ],
    ids=["maximum", "enum", "required", "type", "cel-rule"],
)
def test_an_invalid_object_is_rejected_with_the_field_error(
    kube_plane: KubePlane,
    kube_namespace: str,
    widget_api: str,
    spec: dict[str, Any],
    field_error: str,
) -> None:
    result = _create(kube_plane, kube_namespace, _widget(widget_api, "bad", spec), check=False)
    assert result.returncode != 0
    assert result.stderr.startswith('The Widget "bad" is invalid: '), result.stderr
    assert field_error in result.stderr
    missing = kube_plane.kubectl("get", "widgets", "bad", "-n", kube_namespace, check=False)
    assert "NotFound" in missing.stderr


def test_unknown_fields_are_refused_by_strict_field_validation(
    kube_plane: KubePlane, kube_namespace: str, widget_api: str
) -> None:
    # A raw POST: nothing but the API server looks at the object.
    path = f"/apis/{widget_api}/namespaces/{kube_namespace}/widgets?fieldValidation=Strict"
    body = _widget(widget_api, "typo", {"size": 3, "colour": "red"})
    widget = json.loads(body)["items"][0]
    result = kube_plane.kubectl(
        "create", "--raw", path, "-f", "-", input=json.dumps(widget), check=False
    )
    assert result.returncode != 0
    assert 'strict decoding error: unknown field "spec.colour"' in result.stderr, result.stderr


def test_unknown_fields_are_pruned_without_strict_validation(
    kube_plane: KubePlane, kube_namespace: str, widget_api: str
) -> None:
    _create(kube_plane, kube_namespace, _widget(widget_api, "pruned", {"size": 3, "colour": "red"}))
    stored = kube_plane.kubectl_json("get", "widgets", "pruned", "-n", kube_namespace)
    assert stored["spec"] == {"size": 3}
