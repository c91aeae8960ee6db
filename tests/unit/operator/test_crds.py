"""The CRDs: generated from the models, structural, documented, and committed as generated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from typer.testing import CliRunner

from starcast.cli import app
from starcast.operator import crds
from starcast.operator.models.trainingrun import FamilyName
from starcast.training.families import FAMILIES

CRD_DIR = Path(__file__).resolve().parents[3] / "charts" / "starcast-operator" / "crds"
# Keys a structural schema node may not carry (the API server rejects the CRD otherwise).
NON_STRUCTURAL = {"$ref", "anyOf", "allOf", "oneOf", "$defs", "title"}


def _schemas(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _schemas(child, f"{path}.{name}")
    if "items" in node:
        yield from _schemas(node["items"], f"{path}[]")


def _root(plural: str) -> dict[str, Any]:
    version = crds.custom_resource_definition(plural)["spec"]["versions"][0]
    root: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return root


def test_committed_crds_are_what_the_models_generate() -> None:
    generated = crds.crd_files()
    committed = {path.name: path.read_text() for path in CRD_DIR.glob("*.yaml")}
    assert set(committed) == set(generated), "run `starcast operator crds --out-dir` " + str(
        CRD_DIR
    )
    for name, text in generated.items():
        assert committed[name] == text, (
            f"{name} differs from the models: run "
            "`starcast operator crds --out-dir charts/starcast-operator/crds`"
        )


def test_cli_prints_every_crd() -> None:
    result = CliRunner().invoke(app, ["operator", "crds"])
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.output))
    assert {d["metadata"]["name"] for d in documents} == {
        "trainingruns.starcast.io",
        "modelreleases.starcast.io",
        "kopfpeerings.kopf.dev",
        "clusterkopfpeerings.kopf.dev",
    }


@pytest.mark.parametrize("plural", ["trainingruns", "modelreleases"])
def test_schema_is_structural_and_every_field_described(plural: str) -> None:
    for path, node in _schemas(_root(plural), plural):
        assert not NON_STRUCTURAL & node.keys(), f"{path} is not structural: {sorted(node)}"
        assert "type" in node, f"{path} has no type"
        if node["type"] == "object" and "properties" in node:
            assert "additionalProperties" not in node, path
            for name, child in node["properties"].items():
                if name != "metadata":
                    assert child.get("description"), f"{path}.{name} has no description"


@pytest.mark.parametrize("plural", ["trainingruns", "modelreleases"])
def test_kind_names_status_and_columns(plural: str) -> None:
    crd = crds.custom_resource_definition(plural)
    names = crd["spec"]["names"]
    assert crd["spec"]["scope"] == "Namespaced"
    assert names["categories"] == ["starcast"]
    assert names["shortNames"] == [{"trainingruns": "tr", "modelreleases": "mr"}[plural]]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [column["name"] for column in version["additionalPrinterColumns"]]
    expected = {
        "trainingruns": ["Phase", "Winner", "RMSLE", "Model", "Reason", "Age"],
        "modelreleases": ["Phase", "Version", "Weight", "Stable", "Reason", "Age"],
    }[plural]
    assert columns[: len(expected)] == expected


def test_defaults_reach_nested_objects() -> None:
    spec = _root("trainingruns")["properties"]["spec"]["properties"]
    assert spec["budget"]["default"] == "standard"
    workers = {"replicas": 1, "minReplicas": 0, "maxReplicas": 4, "cpu": "2", "memory": "4Gi"}
    assert spec["ray"]["default"] == {"head": {"cpu": "1", "memory": "2Gi"}, "workers": workers}
    assert spec["ray"]["properties"]["workers"]["default"] == workers
    assert spec["ray"]["properties"]["workers"]["properties"]["replicas"]["default"] == 1


def test_family_names_are_the_trainers() -> None:
    assert set(get_args(FamilyName)) == {family.name for family in FAMILIES}
