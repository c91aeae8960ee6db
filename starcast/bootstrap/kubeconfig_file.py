"""The user's kubeconfig file: this cluster's entries merged in, and only those removed by `down`.

`kubeconfig: ~/.kube/config` must not cost the user their other clusters. The cluster's
entries (cluster, user and context, each named after the cluster) are merged into the file,
replacing only entries this tool wrote there before: which file it wrote to, and whether it
created that file, is recorded in the state directory (`kubeconfig.json`). An entry of the same
name it did not write is someone else's: `up` stops and says so. The file's current context is
left as it is unless it had none (then it becomes this cluster's).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError

from starcast.bootstrap.cloud import CloudError
from starcast.bootstrap.secrets import write_private

RECORD: Final = "kubeconfig.json"
SECTIONS: Final = ("clusters", "users", "contexts")


class Written(BaseModel):
    """What `up` wrote: the file, and whether the file was its own creation."""

    path: str
    created_file: bool


def _record_path(state_dir: Path) -> Path:
    return state_dir / RECORD


def _written(state_dir: Path) -> Written | None:
    path = _record_path(state_dir)
    try:
        return Written.model_validate_json(path.read_text())
    except FileNotFoundError:
        return None
    except ValidationError:
        raise CloudError(
            f"{path} is damaged: delete it (it records which kubeconfig `up` wrote)"
        ) from None


def _load(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise CloudError(f"kubeconfig {path} is not valid YAML ({error}): fix or move it") from None
    if not isinstance(document, dict) or any(
        not isinstance(document.get(section) or [], list) for section in SECTIONS
    ):
        raise CloudError(f"{path} is not a kubeconfig: set `kubeconfig` to another file")
    return document


def _names(document: dict[str, Any], section: str) -> set[str]:
    return {str(e.get("name")) for e in document.get(section) or [] if isinstance(e, dict)}


def merge_kubeconfig(path: Path, ours: str, name: str, state_dir: Path) -> None:
    """Put the entries named `name` of kubeconfig text `ours` into the file at `path`."""
    incoming = yaml.safe_load(ours)
    existing = _load(path)
    record = _written(state_dir)
    owned = record is not None and Path(record.path) == path
    if existing is None:
        document: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "preferences": {}}
        created = True
    else:
        document = existing
        created = owned and record is not None and record.created_file
        clashes = [s[:-1] for s in SECTIONS if name in _names(document, s)]
        if clashes and not owned:
            raise CloudError(
                f"{path} already has a {' and a '.join(clashes)} named {name!r} that this "
                "tool did not write: rename the cluster (`name`), remove those entries, or set "
                "`kubeconfig` to another file"
            )
    for section in SECTIONS:
        kept = [e for e in document.get(section) or [] if e.get("name") != name]
        document[section] = kept + [e for e in incoming[section] if e["name"] == name]
    if not document.get("current-context"):
        document["current-context"] = name
    # The record first: a kill between the two leaves a record of a file without our entries
    # (harmless), never our entries in a file the record doesn't name (refused as someone's).
    write_private(
        _record_path(state_dir),
        Written(path=str(path), created_file=created).model_dump_json().encode(),
    )
    write_private(path, yaml.safe_dump(document, sort_keys=False).encode())


def remove_kubeconfig(name: str, state_dir: Path) -> bool:
    """Remove what `up` wrote (its entries; the file too if it made it and nothing else is
    left). True when something was removed."""
    record = _written(state_dir)
    if record is None:
        return False
    path = Path(record.path)
    document = _load(path)
    removed = False
    if document is not None:
        for section in SECTIONS:
            entries = document.get(section) or []
            kept = [e for e in entries if e.get("name") != name]
            removed |= len(kept) != len(entries)
            document[section] = kept
        if document.get("current-context") == name:
            document["current-context"] = ""
        if record.created_file and not any(document[s] for s in SECTIONS):
            path.unlink()
        else:
            write_private(path, yaml.safe_dump(document, sort_keys=False).encode())
    with contextlib.suppress(FileNotFoundError):
        _record_path(state_dir).unlink()
    return removed


def api_server(path: Path, name: str) -> str:
    """The API server URL of cluster entry `name` in the file (what the user's kubectl uses)."""
    document = _load(path) or {}
    for entry in document.get("clusters") or []:
        if entry.get("name") == name:
            return str(entry["cluster"]["server"])
    raise CloudError(f"{path} has no cluster named {name!r}: run `up` again to write it")
