"""Micro-batching: concurrent requests share one queue round trip and one vectorised predict.

When no batch is out, rows leave at once (a lone request waits for nothing). While batches are
out, a new batch closes `window` after its first row, or at `max_rows`; at most `max_in_flight`
batches are out at the workers, and rows keep collecting in the open batch meanwhile. So batches
grow with the load by themselves: under load the workers get one big batch each instead of a
queue of small ones. A batch costs a queue round trip of a few milliseconds whatever its rows
(measured on the bench machine), so this is the lever.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from starcast.serving.dispatch import DeadlineExceededError, WorkerFailedError
from starcast.serving.metrics import ServingMetrics
from starcast.serving.wire import BatchResult, FeatureValue, PredictBatch

FeatureRow = Mapping[str, FeatureValue]
DEADLINE_GRACE_S: Final = 0.1


class BatchSubmitter(Protocol):
    """Sends one batch and waits for its result (BatchDispatcher does, over the broker)."""

    async def submit(self, batch: PredictBatch, deadline: float) -> BatchResult: ...


@dataclass(frozen=True)
class RowPrediction:
    stars: float
    model_version: str
    model_features: tuple[str, ...] = ()


@dataclass
class _Part:
    """A contiguous slice of one request inside a batch."""

    offset: int
    count: int
    future: asyncio.Future[list[RowPrediction]]


@dataclass
class _Batch:
    rows: list[FeatureRow] = field(default_factory=list)
    parts: list[_Part] = field(default_factory=list)
    deadline: float = float("inf")
    due: bool = False  # its window has passed: send as soon as a slot is free
    timer: asyncio.TimerHandle | None = None


class MicroBatcher:
    def __init__(
        self,
        dispatcher: BatchSubmitter,
        metrics: ServingMetrics,
        *,
        window_s: float,
        max_rows: int,
        max_in_flight: int,
    ) -> None:
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._window_s = window_s
        self._max_rows = max_rows
        self._max_in_flight = max_in_flight
        self._open = _Batch()
        self._full: deque[_Batch] = deque()
        self._in_flight: set[asyncio.Task[None]] = set()

    async def predict(self, rows: Sequence[FeatureRow], deadline: float) -> list[RowPrediction]:
        """Predictions for `rows`, in order; `deadline` is in time.monotonic() seconds."""
        loop = asyncio.get_running_loop()
        futures = []
        for start in range(0, len(rows), self._max_rows):
            future: asyncio.Future[list[RowPrediction]] = loop.create_future()
            self._add(rows[start : start + self._max_rows], future, deadline)
            futures.append(future)
        self._pump()
        try:
            # A little past the deadline: a published batch fails first, with its own reason.
            async with asyncio.timeout(deadline - time.monotonic() + DEADLINE_GRACE_S):
                if len(futures) == 1:
                    return await futures[0]
                results = await asyncio.gather(*futures)
        except TimeoutError:
            raise DeadlineExceededError(
                "every worker slot stayed busy (the workers are overloaded)"
            ) from None
        return [prediction for part in results for prediction in part]

    def _add(
        self,
        chunk: Sequence[FeatureRow],
        future: asyncio.Future[list[RowPrediction]],
        deadline: float,
    ) -> None:
        if len(self._open.rows) + len(chunk) > self._max_rows:
            self._close_open()
        batch = self._open
        batch.parts.append(_Part(len(batch.rows), len(chunk), future))
        batch.rows.extend(chunk)
        batch.deadline = min(batch.deadline, deadline)
        if len(batch.rows) >= self._max_rows:
            self._close_open()
        elif batch.timer is None:
            # Idle workers: go at the next turn of the loop (requests arriving together still
            # share the batch). Busy workers: linger a window, so the answers coming back turn
            # into one big next batch rather than a trickle of small ones.
            window = self._window_s if self._in_flight else 0.0
            batch.timer = asyncio.get_running_loop().call_later(window, self._window_over)

    def _close_open(self) -> None:
        batch, self._open = self._open, _Batch()
        if batch.timer is not None:
            batch.timer.cancel()
        if batch.rows:
            self._full.append(batch)

    def _window_over(self) -> None:
        self._open.due = True
        self._pump()

    def _pump(self) -> None:
        """Send what is ready while there are free slots: full batches first, then a due one."""
        while len(self._in_flight) < self._max_in_flight:
            if self._full:
                batch = self._full.popleft()
            elif self._open.due and self._open.rows:
                batch, self._open = self._open, _Batch()
            else:
                return
            self._send(batch)

    def _send(self, batch: _Batch) -> None:
        live = [part for part in batch.parts if not part.future.done()]
        if not live:
            return  # every request of this batch gave up already
        self._metrics.batch_rows.observe(len(batch.rows))
        self._metrics.batch_requests.observe(len(live))
        task = asyncio.get_running_loop().create_task(self._round_trip(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._pump()

    async def _round_trip(self, batch: _Batch) -> None:
        try:
            result = await self._dispatcher.submit(_columns(batch.rows), batch.deadline)
            if len(result.stars) != len(batch.rows):
                raise WorkerFailedError(
                    f"worker {result.worker} answered {len(result.stars)} predictions "
                    f"for {len(batch.rows)} rows"
                )
        except Exception as error:
            for part in batch.parts:
                if not part.future.done():
                    part.future.set_exception(error)
            return
        for part in batch.parts:
            if not part.future.done():
                part.future.set_result(_slice(result, part))


def _columns(rows: Sequence[FeatureRow]) -> PredictBatch:
    names = {name for row in rows for name, value in row.items() if value is not None}
    return PredictBatch(
        rows=len(rows),
        columns={name: [row.get(name) for row in rows] for name in sorted(names)},
        sent_at=time.time(),
    )


def _slice(result: BatchResult, part: _Part) -> list[RowPrediction]:
    stars = result.stars[part.offset : part.offset + part.count]
    return [
        RowPrediction(
            stars=value, model_version=result.model_version, model_features=result.model_features
        )
        for value in stars
    ]
