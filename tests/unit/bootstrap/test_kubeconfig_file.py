"""The cluster's entries merge into a user's kubeconfig; nothing of anyone else's is lost."""

import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from starcast.bootstrap.cloud import CloudError
from starcast.bootstrap.kubeconfig import rewrite
from starcast.bootstrap.kubeconfig_file import api_server, merge_kubeconfig, remove_kubeconfig
from tests.unit.bootstrap.test_kubeconfig import K3S_YAML

OTHER: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "work", "cluster": {"server": "https://work.example:443"}}],
    "users": [{"name": "work-admin", "user": {"token": "work-token"}}],
    "contexts": [{"name": "work", "context": {"cluster": "work", "user": "work-admin"}}],
    "current-context": "work",
}


def _ours(host: str = "198.51.100.7") -> str:
    return rewrite(K3S_YAML, host, "demo")


def _names(path: Path, section: str) -> list[str]:
    return [e["name"] for e in yaml.safe_load(path.read_text())[section]]


def test_merged_beside_other_entries_then_removed_alone(tmp_path: Path) -> None:
    path, state = tmp_path / "config", tmp_path / "state"
    path.write_text(yaml.safe_dump(OTHER))
    merge_kubeconfig(path, _ours(), "demo", state)
    for section in ("clusters", "users", "contexts"):
        assert sorted(_names(path, section)) == sorted([OTHER[section][0]["name"], "demo"])
    document = yaml.safe_load(path.read_text())
    assert document["current-context"] == "work"  # the user's choice stays
    assert document["users"][0]["user"] == {"token": "work-token"}
    assert api_server(path, "demo") == "https://198.51.100.7:6443"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # A second up replaces its own entries (a new address), never adds a copy.
    merge_kubeconfig(path, _ours("203.0.113.9"), "demo", state)
    assert _names(path, "clusters").count("demo") == 1
    assert api_server(path, "demo") == "https://203.0.113.9:6443"

    assert remove_kubeconfig("demo", state)
    left = yaml.safe_load(path.read_text())
    for section in ("clusters", "users", "contexts"):
        assert left[section] == OTHER[section]
    assert left["current-context"] == "work"
    assert not remove_kubeconfig("demo", state)  # twice: nothing more to do


def test_an_entry_of_the_same_name_not_written_here_is_refused(tmp_path: Path) -> None:
    path, state = tmp_path / "config", tmp_path / "state"
    theirs = {**OTHER, "contexts": [{"name": "demo", "context": {"cluster": "work"}}]}
    path.write_text(yaml.safe_dump(theirs))
    with pytest.raises(CloudError, match="already has a context named 'demo' that this tool"):
        merge_kubeconfig(path, _ours(), "demo", state)
    assert yaml.safe_load(path.read_text()) == theirs
    assert not remove_kubeconfig("demo", state)  # nothing recorded, nothing removed
    assert yaml.safe_load(path.read_text()) == theirs


def test_a_file_it_created_is_deleted_when_only_its_entries_were_there(tmp_path: Path) -> None:
    path, state = tmp_path / "new" / "config", tmp_path / "state"
    merge_kubeconfig(path, _ours(), "demo", state)
    assert yaml.safe_load(path.read_text())["current-context"] == "demo"
    assert remove_kubeconfig("demo", state)
    assert not path.exists()


def test_a_file_it_created_keeps_what_the_user_added_since(tmp_path: Path) -> None:
    path, state = tmp_path / "config", tmp_path / "state"
    merge_kubeconfig(path, _ours(), "demo", state)
    document = yaml.safe_load(path.read_text())
    for section in ("clusters", "users", "contexts"):
        document[section] += OTHER[section]
    path.write_text(yaml.safe_dump(document))
    assert remove_kubeconfig("demo", state)
    left = yaml.safe_load(path.read_text())
    assert left["clusters"] == OTHER["clusters"] and left["current-context"] == ""


def test_a_file_that_is_no_kubeconfig_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("clusters: 42\n")
    with pytest.raises(CloudError, match="is not a kubeconfig: set `kubeconfig` to another"):
        merge_kubeconfig(path, _ours(), "demo", tmp_path / "state")
    assert path.read_text() == "clusters: 42\n"
