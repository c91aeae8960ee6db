"""Micro-batching: concurrent requests share one queue round trip and one vectorised predict.

Rows of requests arriving within `window` of the first one (or until `max_rows` is reached) go out
as a single batch. Under load the window fills while earlier batches are in flight, so batches
grow with the load by themselves; with a single client a request waits at most `window`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from starcast.serving.dispatch import BatchDispatcher, WorkerFailedError
from starcast.serving.metrics import ServingMetrics
from starcast.serving.wire import BatchResult, FeatureValue, PredictBatch

FeatureRow = Mapping[str, FeatureValue]


@dataclass(frozen=True)
class RowPrediction:
    stars: float
    model_version: str


@dataclass
class _Part:
    """A contiguous slice of one request inside a batch."""

    offset: int
    count: int
    future: asyncio.Future[list[RowPrediction]]


@dataclass
class _OpenBatch:
    rows: list[FeatureRow] = field(default_factory=list)
    parts: list[_Part] = field(default_factory=list)
    deadline: float = float("inf")
    timer: asyncio.TimerHandle | None = None


class MicroBatcher:
    def __init__(
        self,
        dispatcher: BatchDispatcher,
        metrics: ServingMetrics,
        *,
        window_s: float,
        max_rows: int,
    ) -> None:
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._window_s = window_s
        self._max_rows = max_rows
        self._open = _OpenBatch()
        self._running: set[asyncio.Task[None]] = set()

    async def predict(self, rows: Sequence[FeatureRow], deadline: float) -> list[RowPrediction]:
        """Predictions for `rows`, in order; `deadline` is in time.monotonic() seconds."""
        loop = asyncio.get_running_loop()
        futures = []
        for start in range(0, len(rows), self._max_rows):
            chunk = rows[start : start + self._max_rows]
            future: asyncio.Future[list[RowPrediction]] = loop.create_future()
            self._add(chunk, future, deadline)
            futures.append(future)
        results = await asyncio.gather(*futures)
        return [prediction for part in results for prediction in part]

    def _add(
        self,
        chunk: Sequence[FeatureRow],
        future: asyncio.Future[list[RowPrediction]],
        deadline: float,
    ) -> None:
        if len(self._open.rows) + len(chunk) > self._max_rows:
            self._flush()
        batch = self._open
        batch.parts.append(_Part(len(batch.rows), len(chunk), future))
        batch.rows.extend(chunk)
        batch.deadline = min(batch.deadline, deadline)
        if len(batch.rows) >= self._max_rows:
            self._flush()
        elif batch.timer is None:
            batch.timer = asyncio.get_running_loop().call_later(self._window_s, self._flush)

    def _flush(self) -> None:
        batch, self._open = self._open, _OpenBatch()
        if batch.timer is not None:
            batch.timer.cancel()
        if not batch.rows:
            return
        self._metrics.batch_rows.observe(len(batch.rows))
        self._metrics.batch_requests.observe(len(batch.parts))
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _send(self, batch: _OpenBatch) -> None:
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
    return [RowPrediction(stars=value, model_version=result.model_version) for value in stars]
