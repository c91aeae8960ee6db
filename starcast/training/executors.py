"""Where the search's fits run: a process pool on this machine, or a Ray cluster.

The search is written once against `concurrent.futures` (submit, then wait for the first that
completes); an executor gives it futures. A run on one machine uses a pool of worker processes
and no Ray at all: Ray's start and stop cost about 6 s of fixed time (its GCS, raylet, dashboard
and runtime-env agents, autoscaler and log monitor, most of which one machine never uses and
which ray.init cannot leave out), against a search of about 13 s on the bundled sample. A run
under RAY_ADDRESS (as every KubeRay RayJob's entrypoint is: Ray's job supervisor sets it) runs
on that cluster, through `starcast.training.ray_runtime`; `--executor ray` asks for a local Ray.

This module imports neither Ray nor scikit-learn: the CLI and `starcast up` import its errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, Final, Protocol

# One core per fit, as Ray gives a task of num_cpus=1 (Ray sets OMP_NUM_THREADS=1 for it): the
# workers do not oversubscribe the cores, and a fit computes the same numbers on either executor
# (histogram gradient boosting's parallel sums depend on the thread count).
WORKER_ENV: Final = {"OMP_NUM_THREADS": "1"}


class ExecutorChoice(StrEnum):
    """`--executor`: auto is Ray under RAY_ADDRESS (a RayJob), else the local pool."""

    AUTO = "auto"
    LOCAL = "local"
    RAY = "ray"


class ExecutorError(RuntimeError):
    """The machinery the fits run on failed (not the data or the arguments); says what to try."""


class RayStartError(ExecutorError):
    """Ray did not start; the message says what to try."""


class WorkerLostError(ExecutorError):
    """A worker process of the local pool died while fitting."""


class SearchExecutor(Protocol):
    """What the search needs from where its fits run."""

    description: str

    def put(self, value: Any) -> Any:
        """A handle to `value` that tasks take as an argument (Ray: in the object store)."""
        ...

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run `fn(*args)` in a worker; the future holds its result, here in the driver."""
        ...

    def submit_kept(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run `fn(*args)` in a worker; the future holds a handle to its result for later tasks."""
        ...


def resolve(choice: ExecutorChoice, environ: Mapping[str, str] | None = None) -> ExecutorChoice:
    """`auto` made concrete: Ray when RAY_ADDRESS names a cluster, else the local pool."""
    if choice != ExecutorChoice.AUTO:
        return choice
    environ = os.environ if environ is None else environ
    return ExecutorChoice.RAY if environ.get("RAY_ADDRESS") else ExecutorChoice.LOCAL


@contextmanager
def open_executor(choice: ExecutorChoice, workers: int | None = None) -> Iterator[SearchExecutor]:
    """The executor `choice` resolves to, started, and stopped when the block ends."""
    executor: LocalPool | Any
    if resolve(choice) == ExecutorChoice.RAY:
        # Imported here only: Ray takes about a second to import, and a local run never needs it.
        from starcast.training.ray_runtime import RayExecutor

        executor = RayExecutor(cpus=workers)
    else:
        executor = LocalPool(workers)
    try:
        yield executor
    finally:
        executor.close()


def _warm_up() -> None:
    """Each worker imports what a fit needs as it starts, while the driver reads the dataset."""
    import starcast.training.search  # noqa: F401


class LocalPool:
    """A pool of worker processes on this machine, one per core: joblib's loky executor.

    loky rather than the standard library's ProcessPoolExecutor: both start workers the same
    way (a fresh interpreter each, about the same start-up; fork would be cheaper but is unsafe
    once the driver has used OpenMP, whose thread pool does not survive a fork), and loky comes
    with scikit-learn; when a worker dies it names the exit code or signal (the standard pool
    says only "terminated abruptly"), it sets the workers' environment as they start, and its
    shutdown can stop idle workers at once instead of waiting for their interpreters' teardown.
    """

    def __init__(self, workers: int | None = None) -> None:
        from joblib.externals.loky import ProcessPoolExecutor, cpu_count

        self.workers = workers or cpu_count()
        self.description = f"a pool of {self.workers} worker processes on this machine (no Ray)"
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, env=WORKER_ENV, initializer=_warm_up
        )
        self._pool.submit(int)  # starts the workers now; they import while the driver works

    def put(self, value: Any) -> Any:
        return value  # a task's arguments are pickled to its worker: nothing to store

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return _lost_workers_explained(self._pool.submit(fn, *args))

    def submit_kept(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self.submit(fn, *args)

    def close(self) -> None:
        # The workers hold nothing once the run is over (or failed): stop them rather than wait
        # for each to tear its interpreter down.
        self._pool.shutdown(wait=True, kill_workers=True)


def _lost_workers_explained(raw: Future[Any]) -> Future[Any]:
    """A future with raw's result, where a dead worker becomes one WorkerLostError."""
    from joblib.externals.loky import BrokenProcessPool

    explained: Future[Any] = Future()

    def copy(done: Future[Any]) -> None:
        if done.cancelled():
            explained.cancel()
            return
        error = done.exception()
        if error is None:
            explained.set_result(done.result())
        elif isinstance(error, BrokenProcessPool):  # loky's TerminatedWorkerError is one
            exit_codes = next(
                (line for line in str(error).splitlines() if "exit codes" in line), str(error)
            )
            explained.set_exception(
                WorkerLostError(
                    f"a worker process of the training pool died ({exit_codes.strip()}). The "
                    "usual cause is the system's out-of-memory killer (SIGKILL): try a smaller "
                    "--budget, fewer --folds or fewer rows; nothing was written."
                )
            )
        else:
            explained.set_exception(error)

    raw.add_done_callback(copy)
    return explained
