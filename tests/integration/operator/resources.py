"""Factories and waits for the operator's tests: TrainingRuns, RayJobs, Events, status."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml

from tests.support.kube import KubePlane
from tests.support.rayjob_executor import LocalRayJobExecutor


def training_run(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "starcast.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def quick_spec(dataset_uri: str, output_prefix: str, **extra: Any) -> dict[str, Any]:
    """A spec that trains in seconds: one family, the quick budget, two folds."""
    return {
        "datasetUri": dataset_uri,
        "outputUri": f"{output_prefix}/{{name}}-{{uid}}",
        "families": ["ridge"],
        "budget": "quick",
        "folds": 2,
        "storageSecretRef": {"name": "storage"},
        **extra,
    }


def apply(plane: KubePlane, *objects: dict[str, Any], check: bool = True) -> str:
    """`kubectl apply` the objects; the output (stdout, or stderr when it fails unchecked)."""
    result = plane.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects), check=check)
    return result.stdout if result.returncode == 0 else result.stderr


def get(plane: KubePlane, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    result = plane.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        return None
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def items(plane: KubePlane, kind: str, namespace: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = plane.kubectl_json("get", kind, "-n", namespace)["items"]
    return listed


def status(plane: KubePlane, name: str, namespace: str) -> dict[str, Any]:
    body = get(plane, "trainingrun", name, namespace) or {}
    found: dict[str, Any] = body.get("status") or {}
    return found


def condition(status_: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status_.get("conditions", ()) if c["type"] == type_), {})


def events_for(plane: KubePlane, name: str, namespace: str) -> list[dict[str, Any]]:
    return [
        event
        for event in items(plane, "events", namespace)
        if event["involvedObject"].get("name") == name
        and event["involvedObject"].get("kind") == "TrainingRun"
    ]


def wait_for(
    what: str,
    probe: Callable[[], Any],
    timeout: float = 60.0,
    explain: Callable[[], str] = lambda: "",
) -> Any:
    """Poll `probe` until it returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{explain()}")
        time.sleep(0.25)


def wait_phase(
    plane: KubePlane,
    name: str,
    namespace: str,
    phase: str,
    timeout: float = 60.0,
    log: Callable[[], str] = lambda: "",
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = status(plane, name, namespace)
        return found if found.get("phase") == phase else None

    result: dict[str, Any] = wait_for(
        f"TrainingRun {namespace}/{name} to be {phase}",
        probe,
        timeout,
        explain=lambda: last_status(plane, name, namespace) + log(),
    )
    return result


def last_status(plane: KubePlane, name: str, namespace: str) -> str:
    return f"last status: {json.dumps(status(plane, name, namespace), indent=1)}\n"


@contextmanager
def held_running(
    plane: KubePlane, executor: LocalRayJobExecutor, run: dict[str, Any], log: Callable[[], str]
) -> Iterator[dict[str, Any]]:
    """`run` applied and Running (its status yielded), the job held by the stand-in till the end."""
    meta = run["metadata"]
    with executor.hold():
        apply(plane, run)
        yield wait_phase(plane, meta["name"], meta["namespace"], "Running", log=log)
