"""The Celery application both the frontend and the workers build from the same settings.

Every delivery guarantee the serving path relies on is set here, in one place:
- late acknowledgement, and rejection (requeue) when the process running a task dies, so a batch
  whose worker is SIGKILLed is redelivered to another one instead of being lost;
- a bounded prefetch (the worker's setting: the batch a process runs and the next), so a busy
  worker doesn't hoard batches an idle one could run;
- a time limit per batch, which the worker enforces itself (time_limit.py): Celery's own
  applies only to its prefork pool, which the worker doesn't use;
- JSON only on the wire (no pickle), and the rpc:// result backend (why: README.md beside this).
"""

from __future__ import annotations

from typing import Final

from celery import Celery
from kombu.entity import Exchange, Queue

from starcast.serving.settings import QueueSettings

APP_NAME: Final = "starcast"
# Batches live only as long as the HTTP request waiting for them (seconds), and the frontend
# re-sends what it is still waiting for after a broker restart; writing every one to disk would
# cost throughput and buy nothing.
TRANSIENT: Final = 1


def create_celery_app(settings: QueueSettings) -> Celery:
    app = Celery(APP_NAME, set_as_current=False)
    queue = Queue(  # type: ignore[no-untyped-call]
        settings.queue,
        Exchange(settings.queue, type="direct", delivery_mode=TRANSIENT),  # type: ignore[no-untyped-call]
        routing_key=settings.queue,
    )
    app.conf.update(
        broker_url=settings.broker_url,
        broker_transport=settings.broker_transport,
        broker_transport_options=dict(settings.broker_transport_options),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for its broker; it has nothing else
        broker_heartbeat=10,
        result_backend=settings.result_backend,
        result_persistent=False,
        result_serializer="json",
        task_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_queues=[queue],
        task_default_queue=settings.queue,
        task_default_exchange=settings.queue,
        task_default_routing_key=settings.queue,
        task_default_delivery_mode="transient",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_track_started=False,
        worker_prefetch_multiplier=1,
        # With late acks a task running when the connection drops is redelivered anyway;
        # cancelling it avoids answering the same batch twice.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        enable_utc=True,
    )
    return app
