"""Readiness of a frontend: the broker answers, and at least one worker consuming our queue does.

Workers answer Celery's control broadcast from their main process, even while every pool process
is busy with a batch, so a loaded but healthy system stays ready. Answers are cached briefly:
probes and dashboards may ask often, the broadcast waits a fixed time for replies.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from celery import Celery

from starcast.serving.schemas import Check

REPLY_WAIT_S: Final = 0.5
CONNECT_TIMEOUT_S: Final = 2.0


class ReadinessProbe:
    def __init__(self, app: Celery, queue: str, cache_s: float) -> None:
        self._app = app
        self._queue = queue
        self._cache_s = cache_s
        self._lock = asyncio.Lock()
        self._answer: tuple[float, Check, Check] | None = None

    async def check(self) -> tuple[Check, Check]:
        """(broker, workers) checks."""
        async with self._lock:
            now = time.monotonic()
            if self._answer is None or now - self._answer[0] > self._cache_s:
                broker, workers = await asyncio.to_thread(self._check_blocking)
                self._answer = (time.monotonic(), broker, workers)
            return self._answer[1], self._answer[2]

    def _check_blocking(self) -> tuple[Check, Check]:
        try:
            with self._app.connection_for_write(connect_timeout=CONNECT_TIMEOUT_S) as connection:
                connection.ensure_connection(max_retries=1)
                broker = Check(ok=True, detail=f"connected to {connection.as_uri()}")
                inspect = self._app.control.inspect(timeout=REPLY_WAIT_S, connection=connection)
                replies: dict[str, list[dict[str, Any]]] = inspect.active_queues() or {}
        except Exception as error:
            unreachable = Check(ok=False, detail=f"unreachable: {type(error).__name__}: {error}")
            return unreachable, Check(ok=False, detail="unknown: the broker is unreachable")
        serving = sorted(
            name
            for name, queues in replies.items()
            if any(queue.get("name") == self._queue for queue in queues)
        )
        if not serving:
            return broker, Check(
                ok=False, detail=f"no worker consuming queue {self._queue!r} answered"
            )
        return broker, Check(ok=True, detail=f"{len(serving)} answering: {', '.join(serving)}")
