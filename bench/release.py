"""ModelRelease on the local control plane: what the operator adds to a rollout and a rollback.

Each run rolls a new model out to 4 worker pods twice: by a ModelRelease (the operator's
server-side apply, then following the Deployment), and by `kubectl set env` (the baseline: the
Deployment controller's own floor). Then it rolls a model whose pods never get Ready (the
kwok stage of hack/kube-stages/) out both ways: the operator rolls back on its own when the
Deployment reports ProgressDeadlineExceeded; the baseline runs `kubectl rollout undo` the moment
it sees the same condition (a human would be slower). Times are measured from the apply to the
Deployment's pod template carrying the new model (patch), to the rollout complete (rollout),
and from the Deployment reporting the failure to its template back on the good model (reaction).

Goal: the operator adds under 1 s at p50 over the baseline's rollout, and reacts to a failure
within 2 s. Needs the plane's binaries (hack/kube-plane.sh build) and `make venv`. Run it as a
module from the repository root (`.venv/bin/python -m bench.release`): run as a script, the
bench directory's operator.py would shadow the standard library's `operator`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.kube import KubePlane, parse_exports, pinned_versions  # noqa: E402
from tests.support.operator_process import OperatorProcess  # noqa: E402
from tests.support.release import (  # noqa: E402
    WORKERS,
    digest,
    install_crds,
    install_workers,
    model_release,
    release_operator,
)

NAMESPACE: Final = "bench-release"
POLL_S: Final = 0.02
TIMEOUT_S: Final = 120.0


@dataclass
class Timings:
    patch: list[float] = field(default_factory=list)
    rollout: list[float] = field(default_factory=list)
    reaction: list[float] = field(default_factory=list)
    rollback: list[float] = field(default_factory=list)


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Deployments:
    """Every state of the worker Deployment, from a watch: a short-lived state (the failure
    the operator reacts to within a second) is seen even when the machine is busy."""

    def __init__(self, kubeconfig: Path) -> None:
        from kubernetes import client, config

        api = config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]
        self._apps: Any = client.AppsV1Api(api)
        self._states: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _sanitized(self, obj: Any) -> dict[str, Any]:
        found: dict[str, Any] = self._apps.api_client.sanitize_for_serialization(obj)
        return found

    def _watch(self) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            stream: Any = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                # Without a resourceVersion each (re)connection starts with the current state.
                for event in stream.stream(
                    self._apps.list_namespaced_deployment,
                    NAMESPACE,
                    field_selector=f"metadata.name={WORKERS}",
                    timeout_seconds=30,
                ):
                    with self._lock:
                        self._states.append((time.monotonic(), self._sanitized(event["object"])))
                    if self._stop.is_set():
                        break
            except Exception as error:  # a dropped watch is reopened
                print(f"deployment watch: {error}; reopening", file=sys.stderr)
                time.sleep(POLL_S)
            finally:
                stream.stop()

    def close(self) -> None:
        self._stop.set()

    def get(self) -> dict[str, Any]:
        return self._sanitized(self._apps.read_namespaced_deployment(WORKERS, NAMESPACE))

    def mark(self) -> int:
        """Where the states seen from now on begin."""
        with self._lock:
            return len(self._states)

    def wait(
        self, condition: Callable[[dict[str, Any]], bool], what: str, since: int
    ) -> tuple[float, int]:
        """When the first state from `since` on met `condition` (arrival time, index)."""
        deadline = time.monotonic() + TIMEOUT_S
        index = since
        while time.monotonic() < deadline:
            with self._lock:
                fresh = self._states[index:]
            for offset, (seen, state) in enumerate(fresh):
                if condition(state):
                    return seen, index + offset
            index += len(fresh)
            time.sleep(POLL_S)
        raise TimeoutError(f"no {what} within {TIMEOUT_S:.0f}s")


def sha_of(deployment: dict[str, Any]) -> str:
    env = deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
    return next((e["value"] for e in env if e["name"] == "STARCAST_MODEL_SHA256"), "")


def complete(deployment: dict[str, Any]) -> bool:
    status, spec = deployment.get("status") or {}, deployment["spec"]
    return bool(
        status.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
        and status.get("updatedReplicas") == spec["replicas"]
        and status.get("replicas") == spec["replicas"]
        and status.get("availableReplicas") == spec["replicas"]
    )


def deadline_exceeded(deployment: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"
        for c in (deployment.get("status") or {}).get("conditions") or ()
    )


def rollout(deployments: Deployments, sha: str, start: Callable[[], object], into: Timings) -> None:
    since = deployments.mark()
    began = time.monotonic()
    start()
    patched, at = deployments.wait(lambda d: sha_of(d) == sha, "patched template", since)
    done, _ = deployments.wait(lambda d: sha_of(d) == sha and complete(d), "complete rollout", at)
    into.patch.append(patched - began)
    into.rollout.append(done - began)


def failed_rollout(
    deployments: Deployments, bad: str, start: Callable[[], object], undo: Callable[[], None],
    into: Timings,
) -> None:  # fmt: skip
    good = sha_of(deployments.get())
    since = deployments.mark()
    start()
    _, at = deployments.wait(lambda d: sha_of(d) == bad, "patched template", since)
    failed, at = deployments.wait(
        lambda d: sha_of(d) == bad and deadline_exceeded(d), "deadline", at
    )
    undo()
    restored, at = deployments.wait(lambda d: sha_of(d) == good, "restored template", at)
    done, _ = deployments.wait(lambda d: sha_of(d) == good and complete(d), "complete rollback", at)
    into.reaction.append(restored - failed)
    into.rollback.append(done - failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # The machine may be shared: the load says how much else ran beside the bench.
    load_start = os.getloadavg()[0]
    print(f"load average (1 min) at start: {load_start:.2f} on {os.cpu_count()} CPUs", flush=True)
    state = Path(tempfile.mkdtemp(prefix="starcast-bench-release-"))
    env = dict(os.environ, STARCAST_KUBE_DIR=str(state / "plane"))
    plane_script = str(REPO_ROOT / "hack" / "kube-plane.sh")
    up = subprocess.run(["bash", plane_script, "up"], env=env, capture_output=True, text=True)
    if up.returncode != 0:
        sys.exit(f"the plane did not start:\n{up.stderr}")
    exports = parse_exports(up.stdout)
    bin_dir = Path(exports.pop("PATH"))
    plane = KubePlane(
        kubeconfig=Path(exports["KUBECONFIG"]),
        bin_dir=bin_dir,
        env={**os.environ, **exports, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        state_dir=state / "plane",
        versions=pinned_versions(),
    )
    os.environ["KUBECONFIG"] = str(plane.kubeconfig)
    operator: OperatorProcess | None = None
    deployments: Deployments | None = None
    errors = 0
    ours, baseline = Timings(), Timings()
    try:
        install_crds(plane)
        plane.kubectl("create", "namespace", NAMESPACE)
        plane.kubectl("wait", "--for=create", "-n", NAMESPACE, "serviceaccount/default")
        install_workers(plane, NAMESPACE)
        operator = release_operator(plane, NAMESPACE, state / "operator.log")
        deployments = Deployments(plane.kubeconfig)

        def apply(name: str, sha: str, version: str) -> Callable[[], object]:
            manifest = model_release(name, sha256=sha, version=version)
            return lambda: plane.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=manifest)

        def ended(name: str, phase: str) -> None:
            """Untimed: the release saw its end before the next one starts (or supersedes it)."""
            plane.kubectl(
                "wait", "-n", NAMESPACE, f"modelrelease/{name}",
                f"--for=jsonpath={{.status.phase}}={phase}", f"--timeout={TIMEOUT_S:.0f}s",
            )  # fmt: skip

        def set_env(sha: str, version: str) -> Callable[[], object]:
            return lambda: plane.kubectl(
                "set", "env", "-n", NAMESPACE, f"deployment/{WORKERS}",
                f"STARCAST_MODEL_URI=s3://models/{version}", f"STARCAST_MODEL_SHA256={sha}",
            )  # fmt: skip

        def undo() -> None:
            plane.kubectl("rollout", "undo", "-n", NAMESPACE, f"deployment/{WORKERS}")

        for run in range(args.runs):
            try:
                name = f"r{run}"
                rollout(deployments, digest(name), apply(name, digest(name), name), ours)
                ended(name, "Succeeded")
                base = f"b{run}"
                rollout(deployments, digest(base), set_env(digest(base), base), baseline)
                bad = f"bad{run}"
                failed_rollout(
                    deployments, digest(bad, bad=True),
                    apply(bad, digest(bad, bad=True), bad), lambda: None, ours,
                )  # fmt: skip
                ended(bad, "RolledBack")
                badb = f"badb{run}"
                failed_rollout(
                    deployments, digest(badb, bad=True),
                    set_env(digest(badb, bad=True), badb), undo, baseline,
                )  # fmt: skip
            except (TimeoutError, AssertionError) as error:  # KubeCommandError is one
                errors += 1
                print(f"run {run}: {error}", file=sys.stderr)
            print(
                f"run {run}: operator patch {ours.patch[-1:]} rollout {ours.rollout[-1:]} "
                f"reaction {ours.reaction[-1:]}; baseline rollout {baseline.rollout[-1:]} "
                f"reaction {baseline.reaction[-1:]}",
                file=sys.stderr,
            )
    finally:
        if deployments is not None:
            deployments.close()
        if operator is not None:
            operator.stop()
        subprocess.run(["bash", plane_script, "down"], env=env, capture_output=True, check=False)
    load_end = os.getloadavg()[0]
    print(f"load average (1 min) at end: {load_end:.2f}")
    overhead = p50(ours.rollout) - p50(baseline.rollout)
    reaction = p50(ours.reaction)
    print(f"{'':<10}{'patch p50 s':>14}{'rollout p50 s':>16}{'reaction p50 s':>17}")
    for label, t in (("operator", ours), ("baseline", baseline)):
        print(f"{label:<10}{p50(t.patch):>14.3f}{p50(t.rollout):>16.3f}{p50(t.reaction):>17.3f}")
    adds_ok, reacts_ok = overhead < 1, reaction < 2
    print(
        f"operator adds {overhead:.3f} s at p50 (goal < 1 s: {'met' if adds_ok else 'NOT met'}); "
        f"reacts in {reaction:.3f} s (goal < 2 s: {'met' if reacts_ok else 'NOT met'})"
    )
    print(
        f"release: runs={args.runs} patch_p50_s={p50(ours.patch):.3f} "
        f"rollout_p50_s={p50(ours.rollout):.3f} baseline_patch_p50_s={p50(baseline.patch):.3f} "
        f"baseline_rollout_p50_s={p50(baseline.rollout):.3f} overhead_p50_s={overhead:.3f} "
        f"rollback_reaction_p50_s={reaction:.3f} "
        f"baseline_rollback_reaction_p50_s={p50(baseline.reaction):.3f} "
        f"rollback_p50_s={p50(ours.rollback):.3f} load_start={load_start:.2f} "
        f"load_end={load_end:.2f} errors={errors}"
    )


if __name__ == "__main__":
    main()
