"""The hard time limit of a batch, for a worker whose batches run on a thread.

Celery enforces time limits only in its prefork pool, by killing the pool process that overran.
Our worker runs batches on a thread of its one process (no hop to a child process per batch, which
measurably shortens every round trip), and a thread can't be killed: so the whole worker goes. It
logs which batch overran and exits with TIME_LIMIT_EXIT_CODE. The batch was not acknowledged, so
RabbitMQ redelivers it until its message expires with the request's deadline (a poison batch can't
take down workers for ever), and the orchestrator (Kubernetes, `starcast up`) sees the exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

logger = logging.getLogger(__name__)

TIME_LIMIT_EXIT_CODE: Final = 70  # EX_SOFTWARE
MAX_POLL_S: Final = 0.5


class TimeLimitWatchdog:
    """Ends the process when a batch runs longer than `limit_s`."""

    def __init__(self, limit_s: float, *, exit_process: Callable[[int], object] = os._exit) -> None:
        self.limit_s = limit_s
        self._exit_process = exit_process
        self._poll_s = min(MAX_POLL_S, limit_s / 4)
        self._running: dict[str, float] = {}  # batch id -> when it started (monotonic)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, batch_id: str) -> Iterator[None]:
        with self._lock:
            self._running[batch_id] = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(batch_id, None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="starcast-time-limit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll_s):
            now = time.monotonic()
            with self._lock:
                overran = [(b, now - since) for b, since in self._running.items()]
            for batch_id, running_s in overran:
                if running_s > self.limit_s:
                    logger.critical(
                        "batch %s has run %.1f s, past its time limit of %.1f s: the worker "
                        "exits (code %d) and the batch goes back to the queue",
                        batch_id,
                        running_s,
                        self.limit_s,
                        TIME_LIMIT_EXIT_CODE,
                        extra={"task_id": batch_id},
                    )
                    for handler in logging.getLogger().handlers:
                        # os._exit drops unflushed logs; a broken log stream mustn't stop the exit.
                        with contextlib.suppress(Exception):
                            handler.flush()
                    self._exit_process(TIME_LIMIT_EXIT_CODE)
                    return  # os._exit doesn't; a test's stand-in does
