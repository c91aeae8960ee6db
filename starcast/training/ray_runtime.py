"""The search on Ray: join the cluster RAY_ADDRESS names (a RayJob), or start a small one here.

`RayExecutor` is the search's executor on Ray: each task a Ray task of one CPU, the fold arrays
kept in Ray's object store and handed to every fit by reference. A run on one machine uses the
local process pool instead unless `--executor ray` asks for this (`executors.py` says why).

A local Ray (`--executor ray` without RAY_ADDRESS) needs its GCS, a raylet and its workers; it
does not need the web dashboard, task output forwarded to the terminal, or Ray's own logging
set-up, so those stay off.
It always starts its own instance (`address="local"`): by default ray.init would join the latest
instance anyone started on the machine. Ray 2.x starts more than that (the API server, the
dashboard and runtime-env agents the raylet waits for, the autoscaler, the log monitor) and
ray.init has no switch to leave them out; `bench/training.py` prints what each costs.
Ray waits a fixed 30 s (not configurable in Ray 2.x) for its raylet to register, and on a busy
machine the raylet can miss that while its Python agents start; the start is then retried once
after the processes of the failed attempt are stopped, and a second failure is one clear error.

Token authentication stays on (Ray's default for a local cluster: the GCS listens on the node's
address, and anyone who reaches it can run code); Ray's banner announcing that default on every
run is configured away.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Final

import psutil
import ray

from starcast.training.executors import RayStartError

logger = logging.getLogger(__name__)

START_ATTEMPTS: Final = 2
# Plenty for the fold data of a dataset this size; Ray's default takes 30% of the machine's RAM.
LOCAL_OBJECT_STORE_BYTES: Final = 512 * 1024 * 1024
STOP_WAIT_S: Final = 5.0
# The logger of Ray's "Token authentication is enabled for this Ray cluster" banner.
_RAY_AUTH_SETUP_LOGGER: Final = "ray._private.authentication.authentication_token_setup"


__all__ = ["RayExecutor", "RayStartError", "ensure_ray", "local_ray_options"]


def local_ray_options(cpus: int | None = None) -> dict[str, Any]:
    """ray.init's arguments for a cluster of one machine that lives as long as this process."""
    return {
        # A new instance even when another Ray runs here: ray.init() would join that one (and
        # then refuse num_cpus). Joining a cluster is what RAY_ADDRESS asks for.
        "address": "local",
        "num_cpus": cpus or os.cpu_count() or 1,
        "object_store_memory": LOCAL_OBJECT_STORE_BYTES,
        "include_dashboard": False,  # no web UI for a run that ends by itself
        "log_to_driver": False,  # task output stays in Ray's session logs
        "configure_logging": False,  # starcast's logging configuration applies
    }


def ensure_ray(*, cpus: int | None = None, init: Callable[..., Any] | None = None) -> None:
    """Connect to Ray: the cluster RAY_ADDRESS names (a RayJob), else a new local one.

    `init` defaults to ray.init; tests pass one that fails the way Ray fails on a busy machine.
    """
    init = init or ray.init
    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        try:
            init(log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError) as error:
            raise RayStartError(
                f"could not join the Ray cluster at RAY_ADDRESS={os.environ['RAY_ADDRESS']}: "
                f"{error}. Check that the cluster is up, or unset RAY_ADDRESS to start Ray here."
            ) from error
        return
    logging.getLogger(_RAY_AUTH_SETUP_LOGGER).setLevel(logging.ERROR)
    options = local_ray_options(cpus)
    failures: list[str] = []
    for attempt in range(1, START_ATTEMPTS + 1):
        started_before = _descendant_pids()
        try:
            init(**options)
            return
        except Exception as error:  # Ray raises a bare Exception when its start times out
            failures.append(f"{type(error).__name__}: {error}")
            logger.warning(
                "Ray did not start (attempt %d of %d): %s", attempt, START_ATTEMPTS, error
            )
            _stop_processes_started_since(started_before)
    raise RayStartError(
        f"Ray could not start on this machine ({START_ATTEMPTS} attempts; last: "
        f"{failures[-1]}). This usually means the machine is too busy for Ray's processes to "
        "start within Ray's 30 s wait. Try: run again when the machine is less loaded; or start "
        "Ray once with `ray start --head` and run with RAY_ADDRESS=auto to reuse it; Ray's own "
        "logs are under /tmp/ray/session_latest/logs."
    )


def _descendant_pids() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def _stop_processes_started_since(before: set[int]) -> None:
    """Stop what a failed ray.init left running (its GCS, raylet, agents): only those pids."""
    if ray.is_initialized():
        ray.shutdown()
    started = [
        child for child in psutil.Process().children(recursive=True) if child.pid not in before
    ]
    for process in started:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(started, timeout=STOP_WAIT_S)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue


class RayExecutor:
    """The search's executor on Ray: joins RAY_ADDRESS's cluster, or starts Ray here."""

    def __init__(self, cpus: int | None = None) -> None:
        self._connected_here = not ray.is_initialized()
        ensure_ray(cpus=cpus)
        address = os.environ.get("RAY_ADDRESS")
        self.description = (
            f"the Ray cluster at RAY_ADDRESS={address}" if address else "a local Ray instance"
        )
        self._tasks: dict[Callable[..., Any], Any] = {}

    def _task(self, fn: Callable[..., Any]) -> Any:
        if fn not in self._tasks:
            self._tasks[fn] = ray.remote(num_cpus=1)(fn)
        return self._tasks[fn]

    def put(self, value: Any) -> Any:
        return ray.put(value)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = self._task(fn).remote(*args).future()
        return future

    def submit_kept(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """A future that completes with the result's ObjectRef: later tasks read it from the
        object store, on whichever node they run, and the driver never ships it again."""
        ref = self._task(fn).remote(*args)
        kept: Future[Any] = Future()

        def keep(done: Future[Any]) -> None:
            error = done.exception()
            if error is None:
                kept.set_result(ref)
            else:
                kept.set_exception(error)

        ref.future().add_done_callback(keep)
        return kept

    def close(self) -> None:
        if self._connected_here and ray.is_initialized():
            ray.shutdown()  # stops a local instance; from a cluster, only disconnects
