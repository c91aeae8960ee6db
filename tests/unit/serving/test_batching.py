"""Micro-batching: coalescing, splitting, the in-flight cap, errors and deadlines.

The broker side is replaced by a submitter that answers when the test says so: these tests are
about the order and grouping of rows, which the integration tests can't pin down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from starcast.serving.batching import MicroBatcher, RowPrediction
from starcast.serving.dispatch import DeadlineExceededError, WorkerFailedError
from starcast.serving.metrics import ServingMetrics
from starcast.serving.wire import BatchResult, FeatureValue, PredictBatch

T = TypeVar("T")


class ControlledSubmitter:
    """Answers each batch with its `forks` column as the stars, once `release()` is called."""

    def __init__(self, *, auto: bool = True, error: Exception | None = None) -> None:
        self.batches: list[PredictBatch] = []
        self.gate = asyncio.Event()
        if auto:
            self.gate.set()
        self.error = error

    def release(self) -> None:
        self.gate.set()

    async def submit(self, batch: PredictBatch, deadline: float) -> BatchResult:
        self.batches.append(batch)
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        stars = [float(v) for v in batch.columns["forks"]]  # type: ignore[arg-type]
        return BatchResult(model_version="v1", stars=stars, worker="w", queue_wait_s=0, predict_s=0)


def rows(*forks: int) -> list[dict[str, FeatureValue]]:
    return [{"forks": float(value)} for value in forks]


def stars(predictions: list[RowPrediction]) -> list[float]:
    return [prediction.stars for prediction in predictions]


def run(body: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(body())  # type: ignore[arg-type]


def batcher(
    submitter: ControlledSubmitter, *, window_s: float = 0.01, max_rows: int = 100, cap: int = 4
) -> MicroBatcher:
    return MicroBatcher(
        submitter, ServingMetrics(), window_s=window_s, max_rows=max_rows, max_in_flight=cap
    )


def later(seconds: float) -> float:
    return time.monotonic() + seconds


async def only_slot_taken() -> tuple[
    ControlledSubmitter, MicroBatcher, asyncio.Future[list[RowPrediction]]
]:
    """A batcher with one slot, taken by a one-row batch the submitter holds until released."""
    submitter = ControlledSubmitter(auto=False)
    micro = batcher(submitter, window_s=0, cap=1)
    taken = asyncio.ensure_future(micro.predict(rows(1), later(5)))
    await asyncio.sleep(0.02)
    return submitter, micro, taken


def test_concurrent_requests_within_the_window_share_one_batch_and_keep_their_order() -> None:
    async def body() -> tuple[ControlledSubmitter, list[list[RowPrediction]]]:
        submitter = ControlledSubmitter()
        micro = batcher(submitter, window_s=0.05)
        answers = await asyncio.gather(
            *(micro.predict(rows(i, i + 100), later(5)) for i in range(5))
        )
        return submitter, answers

    submitter, answers = run(body)
    assert len(submitter.batches) == 1
    assert submitter.batches[0].rows == 10
    assert [stars(answer) for answer in answers] == [[i, i + 100] for i in range(5)]
    assert {p.model_version for answer in answers for p in answer} == {"v1"}


def test_a_request_larger_than_a_batch_is_split_and_reassembled() -> None:
    async def body() -> tuple[ControlledSubmitter, list[RowPrediction]]:
        submitter = ControlledSubmitter()
        answer = await batcher(submitter, max_rows=3).predict(rows(*range(7)), later(5))
        return submitter, answer

    submitter, answer = run(body)
    assert [batch.rows for batch in submitter.batches] == [3, 3, 1]
    assert stars(answer) == list(range(7))


def test_rows_wait_for_a_free_slot_and_leave_together() -> None:
    async def body() -> ControlledSubmitter:
        submitter, micro, first = await only_slot_taken()
        waiting = [asyncio.ensure_future(micro.predict(rows(i), later(5))) for i in (2, 3, 4)]
        await asyncio.sleep(0.05)  # windows pass, but the only slot is taken
        assert len(submitter.batches) == 1
        submitter.release()
        assert stars(await first) == [1]
        assert [stars(await w) for w in waiting] == [[2], [3], [4]]
        return submitter

    submitter = run(body)
    assert [batch.rows for batch in submitter.batches] == [1, 3]


def test_a_failed_batch_fails_every_request_in_it() -> None:
    async def body() -> list[BaseException | list[RowPrediction]]:
        micro = batcher(ControlledSubmitter(error=WorkerFailedError("boom")), window_s=0.05)
        return await asyncio.gather(  # type: ignore[return-value]
            micro.predict(rows(1), later(5)), micro.predict(rows(2), later(5)),
            return_exceptions=True,
        )  # fmt: skip

    outcomes = run(body)
    assert all(isinstance(o, WorkerFailedError) and "boom" in str(o) for o in outcomes)


def test_waiting_past_the_deadline_for_a_slot_is_a_deadline_error() -> None:
    async def body() -> None:
        submitter, micro, blocked = await only_slot_taken()
        with pytest.raises(DeadlineExceededError, match="worker slot stayed busy"):
            await micro.predict(rows(2), later(0.1))
        submitter.release()
        await blocked

    run(body)
