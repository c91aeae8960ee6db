"""The operator's settings come from STARCAST_OPERATOR_*; its RBAC never grants what it must not."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from starcast.operator.rbac import CLUSTER_RULES, NAMESPACED_RULES, manifests
from starcast.operator.settings import OperatorSettings


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARCAST_OPERATOR_NAMESPACES", '["ml", "ml-dev"]')
    monkeypatch.setenv("STARCAST_OPERATOR_TRAINER_IMAGE", "registry/trainer:2")
    monkeypatch.setenv("STARCAST_OPERATOR_STORAGE_ENDPOINT", "http://minio:9000")
    settings = OperatorSettings()
    assert settings.namespaces == ["ml", "ml-dev"]
    assert settings.trainer_image == "registry/trainer:2"
    assert settings.storage_endpoint == "http://minio:9000"


def test_placeholder_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARCAST_OPERATOR_STORAGE_SECRET_ACCESS_KEY", "changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        OperatorSettings()


def test_rules_grant_no_delete_no_secret_listing_no_workloads() -> None:
    for rule in NAMESPACED_RULES + CLUSTER_RULES:
        assert "delete" not in rule["verbs"] and "*" not in rule["verbs"], rule
        assert "*" not in rule["resources"], rule
        if "secrets" in rule["resources"]:
            assert rule["verbs"] == ["get"]
        assert not {"deployments", "pods"} & set(rule["resources"]), rule
    for rule in CLUSTER_RULES:
        assert set(rule["verbs"]) <= {"get", "list", "watch", "patch"}
        assert "secrets" not in rule["resources"]


def test_namespaced_rights_are_bound_only_in_watched_namespaces() -> None:
    docs = manifests(service_account="op", namespace="system", watched=["a", "b"])
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["a", "b"]
    (cluster_binding,) = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    assert roles[cluster_binding["roleRef"]["name"]]["rules"] == CLUSTER_RULES


def test_replicas_of_one_release_never_share_a_peering_priority() -> None:
    from starcast.operator.runner import PRIORITY_BAND, peering_priority

    replicas = {peering_priority(0) for _ in range(50)}
    assert len(replicas) == 50  # kopf would freeze replicas of equal priority
    assert all(0 <= p < PRIORITY_BAND for p in replicas)
    assert min(peering_priority(1) for _ in range(50)) > max(replicas)  # a higher release wins
    assert peering_priority(2**31 - 1) < 2**63  # fits the peering object's int64


def test_priority_out_of_the_band_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARCAST_OPERATOR_PRIORITY", str(2**31))
    with pytest.raises(ValidationError, match="priority"):
        OperatorSettings()


def test_defaults_run_standalone_so_that_a_bare_start_acts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STARCAST_OPERATOR_PEERING", raising=False)
    assert OperatorSettings().peering is None  # kopf would wait for a peering object unmade


def test_the_peering_objects_and_the_command_that_makes_one() -> None:
    from starcast.operator.peering import peering_objects

    (cluster,) = peering_objects("p", [])
    assert (cluster.kind, cluster.namespace) == ("ClusterKopfPeering", None)
    assert [str(o) for o in peering_objects("p", ["a", "b"])] == [
        "KopfPeering a/p",
        "KopfPeering b/p",
    ]
    command = peering_objects("p", ["a"])[0].create_command()
    assert command.startswith("kubectl create -n a -f - <<< ")
    assert '"kind": "KopfPeering"' in command and '"name": "p"' in command


def test_the_kuberay_version_users_are_told_is_the_one_tested() -> None:
    from pathlib import Path

    from starcast.operator import constants
    from starcast.operator.status import KUBERAY_MISSING_MESSAGE

    addon = Path(__file__).resolve().parents[3] / "hack/kube/addons/kuberay/addon.env"
    pinned = dict(
        line.split("=", 1) for line in addon.read_text().splitlines() if line.startswith("ADDON_")
    )
    assert pinned["ADDON_VERSION"] == f"v{constants.KUBERAY_VERSION}"
    assert f"--version {constants.KUBERAY_VERSION}" in KUBERAY_MISSING_MESSAGE
