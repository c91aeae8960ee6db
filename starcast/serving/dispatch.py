"""Sends prediction batches to the workers and routes their replies back to the waiting requests.

One frontend process owns two broker connections, each used by exactly one thread (py-amqp
connections are not thread-safe):
- the publisher thread sends Celery task messages whose `reply_to` names this process's reply
  queue, with publisher confirms, retrying (and reconnecting) until the batch's deadline;
- the reply thread consumes that queue (exclusive, auto-deleted with the process) and resolves the
  asyncio future of the batch whose task id the reply's correlation id names.
Nothing in the event loop blocks on the broker. When the reply connection comes back after a
broker restart, every batch still waiting is published again: predictions are idempotent, a
duplicate answer is ignored, and a reply lost with the old queue is not a lost request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from celery import Celery
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.message import Message
from kombu.messaging import Producer
from pydantic import ValidationError

from starcast.serving.celery_app import create_celery_app
from starcast.serving.metrics import ServingMetrics
from starcast.serving.settings import QueueSettings
from starcast.serving.wire import PREDICT_TASK, BatchResult, PredictBatch, TaskReply

logger = logging.getLogger(__name__)

REPLY_POLL_S: Final = 0.25
RECONNECT_MAX_S: Final = 2.0
HEARTBEAT_S: Final = 10


class DispatchError(Exception):
    """A batch could not be answered; the message says why, for the HTTP response."""


class BrokerUnavailableError(DispatchError):
    """The batch could not be published."""


class WorkerFailedError(DispatchError):
    """A worker ran the batch and failed."""


class DeadlineExceededError(DispatchError):
    """No answer before the deadline; the message says what was missing."""


@dataclass
class _Pending:
    payload: dict[str, Any]
    deadline: float  # time.monotonic()
    future: asyncio.Future[BatchResult]
    published_at: float = 0.0
    publishes: int = field(default=0)


class BatchDispatcher:
    def __init__(self, settings: QueueSettings, metrics: ServingMetrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._app: Celery = create_celery_app(settings)
        self.reply_queue: Final = f"starcast.reply.{uuid.uuid4().hex}"
        self._pending: dict[str, _Pending] = {}
        self._publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="starcast-publish")
        self._publish_connection: Connection | None = None  # publisher thread only
        self._producer: Producer | None = None  # publisher thread only
        self._stopping = threading.Event()
        self._reply_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reply_ready: asyncio.Event | None = None
        self._background: set[asyncio.Future[None]] = set()
        self.last_broker_error: str | None = None

    @property
    def celery(self) -> Celery:
        return self._app

    @property
    def reply_connected(self) -> bool:
        return self._reply_ready is not None and self._reply_ready.is_set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._reply_ready = asyncio.Event()
        self._reply_thread = threading.Thread(
            target=self._consume_replies, name="starcast-replies", daemon=True
        )
        self._reply_thread.start()

    async def stop(self) -> None:
        self._stopping.set()
        if self._reply_thread is not None:
            await asyncio.to_thread(self._reply_thread.join, REPLY_POLL_S * 8)
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(BrokerUnavailableError("the frontend is stopping"))
        await asyncio.get_running_loop().run_in_executor(self._publisher, self._close_publisher)
        self._publisher.shutdown(wait=True)

    async def submit(self, batch: PredictBatch, deadline: float) -> BatchResult:
        """Publish `batch` and wait for its result until `deadline` (monotonic seconds)."""
        assert self._loop is not None and self._reply_ready is not None, "start() first"
        task_id = uuid.uuid4().hex
        pending = _Pending(batch.model_dump(), deadline, self._loop.create_future())
        self._pending[task_id] = pending
        self._metrics.batches_in_flight.inc()
        try:
            async with asyncio.timeout_at(self._loop.time() + (deadline - time.monotonic())):
                # A reply can only reach a declared reply queue: don't publish before it exists.
                await self._reply_ready.wait()
                await self._publish(task_id, pending)
                return await pending.future
        except TimeoutError:
            raise DeadlineExceededError(self._why_late(pending)) from None
        finally:
            self._pending.pop(task_id, None)
            self._metrics.batches_in_flight.dec()

    def _why_late(self, pending: _Pending) -> str:
        if not self.reply_connected or pending.publishes == 0:
            cause = f": {self.last_broker_error}" if self.last_broker_error else ""
            return f"the broker was unreachable{cause}"
        return "no worker answered in time (all busy, or none running)"

    async def _publish(self, task_id: str, pending: _Pending) -> None:
        assert self._loop is not None
        pending.publishes += 1
        pending.published_at = time.monotonic()
        await self._loop.run_in_executor(
            self._publisher, self._publish_blocking, task_id, pending.payload, pending.deadline
        )

    def _publish_blocking(self, task_id: str, payload: dict[str, Any], deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self._stopping.is_set():
            return  # nobody waits for it any more
        if self._producer is None:
            self._publish_connection = self._app.connection_for_write(
                transport_options={"confirm_publish": True}
            )
            self._producer = Producer(  # type: ignore[no-untyped-call]
                self._publish_connection, auto_declare=False
            )
        amqp = self._app.amqp
        payload = {**payload, "sent_at": time.time()}
        message = amqp.create_task_message(
            task_id, PREDICT_TASK, args=[payload], kwargs={}, expires=remaining,
            reply_to=self.reply_queue,
            # Celery would saferepr the whole batch into a header: slow, and it leaks the rows.
            argsrepr=f"[<{payload['rows']} rows>]", kwargsrepr="{}",
        )  # fmt: skip
        try:
            amqp.send_task_message(
                self._producer,
                PREDICT_TASK,
                message,
                queue=self._settings.queue,
                expiration=remaining,  # RabbitMQ drops it unseen once nobody waits for it
                retry=True,
                retry_policy={
                    "max_retries": max(1, int(remaining / 0.5)),
                    "interval_start": 0,
                    "interval_step": 0.25,
                    "interval_max": 0.5,
                },
            )
        except Exception as error:
            self.last_broker_error = f"{type(error).__name__}: {error}"
            logger.warning("could not publish batch %s: %s", task_id, self.last_broker_error)
            self._close_publisher()
            self._call_in_loop(self._fail, task_id, BrokerUnavailableError(self.last_broker_error))

    def _close_publisher(self) -> None:
        if self._publish_connection is not None:
            self._publish_connection.collect()  # type: ignore[no-untyped-call]
        self._publish_connection = None
        self._producer = None

    # -- reply thread -------------------------------------------------------------------------

    def _consume_replies(self) -> None:
        backoff = 0.1
        connected_before = False
        while not self._stopping.is_set():
            try:
                with self._app.connection_for_read(heartbeat=HEARTBEAT_S) as connection:
                    connection.connect()
                    queue = Queue(  # type: ignore[no-untyped-call]
                        self.reply_queue,
                        Exchange(""),  # type: ignore[no-untyped-call]
                        routing_key=self.reply_queue,
                        durable=False,
                        exclusive=True,
                        auto_delete=True,
                    )
                    with connection.Consumer(
                        queue, callbacks=[self._on_reply], no_ack=True, accept=["json"]
                    ):
                        logger.info("reply queue %s consuming", self.reply_queue)
                        self._call_in_loop(self._on_reply_connected, connected_before)
                        connected_before, backoff = True, 0.1
                        while not self._stopping.is_set():
                            try:
                                connection.drain_events(timeout=REPLY_POLL_S)
                            except TimeoutError:
                                connection.heartbeat_check()
            except Exception as error:
                # Any failure of the connection: note it, tell the loop, retry with backoff.
                self.last_broker_error = f"{type(error).__name__}: {error}"
                logger.warning("reply connection lost: %s", self.last_broker_error)
                self._call_in_loop(self._on_reply_disconnected)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_S)

    def _on_reply(self, body: Any, message: Message) -> None:
        try:
            reply = TaskReply.model_validate(body)
        except ValidationError as error:
            logger.error("malformed reply on %s: %s", self.reply_queue, error)
            return
        if reply.final:
            self._call_in_loop(self._resolve, reply)

    def _call_in_loop(self, callback: Any, *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback, *args)

    # -- event loop callbacks ------------------------------------------------------------------

    def _on_reply_connected(self, reconnected: bool) -> None:
        assert self._reply_ready is not None
        self._reply_ready.set()
        self.last_broker_error = None
        if not reconnected:
            return
        # Replies published while the queue was gone are lost: ask again for what we await.
        for task_id, pending in list(self._pending.items()):
            if pending.publishes and not pending.future.done():
                self._metrics.republished.inc()
                logger.info("re-sending batch %s after reconnecting", task_id)
                task = asyncio.ensure_future(self._publish(task_id, pending))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    def _on_reply_disconnected(self) -> None:
        assert self._reply_ready is not None
        self._reply_ready.clear()

    def _fail(self, task_id: str, error: Exception) -> None:
        pending = self._pending.get(task_id)
        if pending is not None and not pending.future.done():
            pending.future.set_exception(error)

    def _resolve(self, reply: TaskReply) -> None:
        pending = self._pending.get(reply.task_id)
        if pending is None or pending.future.done():
            logger.debug("reply for %s nobody waits for (late or duplicate)", reply.task_id)
            return
        if reply.status == "SUCCESS":
            try:
                result = BatchResult.model_validate(reply.result)
            except ValidationError as error:
                pending.future.set_exception(WorkerFailedError(f"malformed result: {error}"))
                return
            round_trip = time.monotonic() - pending.published_at
            self._metrics.batch_round_trip.observe(round_trip)
            self._metrics.version_latency.labels(result.model_version).observe(round_trip)
            self._metrics.predictions.labels(result.model_version).inc(len(result.stars))
            self._metrics.queue_wait.observe(result.queue_wait_s)
            self._metrics.predict_time.observe(result.predict_s)
            pending.future.set_result(result)
        elif reply.status == "REVOKED":
            pending.future.set_exception(
                DeadlineExceededError("the batch expired in the queue before a worker took it")
            )
        else:
            pending.future.set_exception(WorkerFailedError(_describe_failure(reply)))


def _describe_failure(reply: TaskReply) -> str:
    if isinstance(reply.result, dict):
        kind = reply.result.get("exc_type", "error")
        text = reply.result.get("exc_message", "")
        if isinstance(text, list):
            text = " ".join(str(part) for part in text)
        return f"{kind}: {text}"
    return str(reply.result)
