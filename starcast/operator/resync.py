"""The periodic resync of unfinished TrainingRuns: the safety net for missed RayJob events.

One loop for the whole operator rather than a kopf timer per run: kopf puts a finalizer on every
object a timer serves, which would block `kubectl delete` of a run while the operator is down and
cost two writes per run, and nothing needs cleaning up that the RayJob's owner reference does not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRef:
    namespace: str
    name: str
    uid: str


async def resync_forever(
    unfinished: Callable[[], Iterable[RunRef]],
    sync: Callable[[RunRef], object],
    *,
    interval: float,
    concurrency: int,
    executor: Executor | None = None,
) -> None:
    """Every `interval` seconds, `sync` each run `unfinished` lists, `concurrency` at a time.

    `sync` is blocking (it runs in `executor`); a run whose sync fails is logged and tried again
    on the next pass. Runs until cancelled.
    """
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(concurrency)

    async def one(run: RunRef) -> None:
        async with slots:
            try:
                await loop.run_in_executor(executor, sync, run)
            except Exception as error:
                logger.warning(
                    "resync failed, retried in %.0fs: %s",
                    interval,
                    error,
                    extra={"object": f"{run.namespace}/{run.name}"},
                )

    while True:
        await asyncio.sleep(interval)
        await asyncio.gather(*(one(run) for run in list(unfinished())))
