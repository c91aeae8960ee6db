"""Workers that die, stop or refuse their model: no request is lost, no bad model is served.

The slow model makes a batch take seconds, so a test can see it running on a worker (Celery's
`inspect active`) and kill, stop or watch that worker while the batch is in the middle.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from starcast.serving.time_limit import TIME_LIMIT_EXIT_CODE
from tests.integration.serving.stack import ServingStack, Worker
from tests.integration.serving.test_predictions_over_http import sample_repositories
from tests.support.models import ModelArtifact

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = 600  # seconds on the slow model
SLOW_FRONTEND = {
    "max_batches_in_flight": 1,
    "max_batch_rows": ROWS,
    "max_request_repositories": ROWS,
    "request_timeout_s": 240,
}


@dataclass(frozen=True)
class RunningBatch:
    """One slow batch that `worker`, the only worker of `stack`, is running right now."""

    stack: ServingStack
    worker: Worker
    task_id: str
    model: ModelArtifact
    answer: Future[httpx.Response]

    def assert_all_predicted(self) -> None:
        """The client got every row back, predicted by the released model."""
        answer = self.answer.result(timeout=300)
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        assert len(predictions) == ROWS
        assert {p["model_version"] for p in predictions} == {self.model.version}


@contextmanager
def slow_batch_running(
    make_stack: Callable[[], ServingStack], model: ModelArtifact
) -> Iterator[RunningBatch]:
    """A fresh stack with one worker, caught in the middle of a slow batch sent to its frontend."""
    stack = make_stack()
    worker = stack.start_worker(model)
    stack.start_frontend(**SLOW_FRONTEND)
    stack.wait_until_ready()
    active: list[str] = []

    def running() -> bool:
        active[:] = stack.active_task_ids(worker)
        return bool(active)

    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(
            httpx.post,
            f"{stack.base_url}/api/v1/predict",
            json={"repositories": sample_repositories(ROWS)},
            timeout=300,
        )
        stack.wait_for(running, f"a batch running on {worker.hostname}", [worker.process])
        yield RunningBatch(stack, worker, active[0], model, answer)


def test_batch_of_a_worker_killed_mid_task_is_redelivered_and_answered(
    make_stack: Callable[[], ServingStack], slow_model_artifact: ModelArtifact
) -> None:
    with slow_batch_running(make_stack, slow_model_artifact) as batch:
        batch.worker.process.kill()  # SIGKILL: no goodbye, no ack
        second = batch.stack.start_worker(slow_model_artifact)
        batch.stack.wait_for(
            lambda: batch.task_id in batch.stack.active_task_ids(second),
            f"batch {batch.task_id} redelivered to {second.hostname}",
            [second.process],
        )
        batch.assert_all_predicted()


def test_a_batch_past_its_time_limit_ends_the_worker_and_its_request_times_out(
    make_stack: Callable[[], ServingStack], slow_model_artifact: ModelArtifact
) -> None:
    stack = make_stack()
    worker = stack.start_worker(slow_model_artifact, task_time_limit_s=0.5)
    stack.start_frontend(**{**SLOW_FRONTEND, "request_timeout_s": 8})
    stack.wait_until_ready()

    answer = httpx.post(
        f"{stack.base_url}/api/v1/predict",
        json={"repositories": sample_repositories(ROWS)},
        timeout=60,
    )

    assert worker.process.wait(30) == TIME_LIMIT_EXIT_CODE
    assert "past its time limit of 0.5 s" in worker.process.log_tail()
    assert not worker.ready_file.exists()
    # Nobody else could take the batch: the client hears why, at its deadline, not never.
    assert answer.status_code == 504, answer.text
    assert "no worker answered in time" in answer.json()["detail"]


def test_sigterm_lets_the_running_batch_finish_then_exits(
    make_stack: Callable[[], ServingStack], slow_model_artifact: ModelArtifact
) -> None:
    with slow_batch_running(make_stack, slow_model_artifact) as batch:
        batch.worker.process.terminate()
        # No other worker exists: only the terminated one can answer.
        batch.assert_all_predicted()
    assert batch.worker.process.wait(60) == 0  # on its own: a second SIGTERM would be a cold stop
    assert not batch.worker.ready_file.exists()


def test_model_with_another_digest_keeps_the_worker_from_ready(
    make_stack: Callable[[], ServingStack], model_artifact: ModelArtifact
) -> None:
    stack = make_stack()
    stack.start_frontend()
    worker = stack.start_worker(model_artifact, wait=False, model_sha256="0" * 64)
    assert worker.process.wait(120) == 3
    assert f"holds model sha256 {model_artifact.sha256}" in worker.process.log_tail()
    assert not worker.ready_file.exists()
    readiness = httpx.get(f"{stack.base_url}/readyz", timeout=10)
    assert readiness.status_code == 503
    assert readiness.json()["workers"]["ok"] is False


def test_tampered_model_file_keeps_the_worker_from_ready(
    make_stack: Callable[[], ServingStack], model_artifact: ModelArtifact, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(model_artifact.path, tampered)
    model_file = tampered / "model.skops"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    stack = make_stack()
    copy = ModelArtifact(tampered.as_uri(), model_artifact.sha256, model_artifact.version, tampered)
    worker = stack.start_worker(copy, wait=False)
    assert worker.process.wait(120) == 3
    assert "altered or corrupted" in worker.process.log_tail()
    assert not worker.ready_file.exists()
