"""The worker's task: predict one batch of repositories with the model this worker verified.

The task is idempotent (the same batch gives the same stars), which is what makes late
acknowledgement and redelivery after a crash safe.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Celery, Task

from starcast.serving.inference import Predictor
from starcast.serving.time_limit import TimeLimitWatchdog
from starcast.serving.wire import PREDICT_TASK, BatchResult, PredictBatch
from starcast.serving.worker_metrics import WorkerMetrics

logger = logging.getLogger(__name__)


def register_tasks(
    app: Celery, predictor: Predictor, watchdog: TimeLimitWatchdog, metrics: WorkerMetrics
) -> Task:
    """Register `starcast.predict_batch` on `app`, bound to `predictor`; returns the task.

    Every batch runs under `watchdog`, which ends the worker if the batch overruns its limit,
    and is counted in `metrics` under the model's version.
    """
    model_features = tuple(predictor.model.manifest.feature_names)

    @app.task(  # type: ignore[untyped-decorator]
        name=PREDICT_TASK,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
    )
    def predict_batch(task: Task, payload: dict[str, Any]) -> dict[str, Any]:
        started = time.time()
        with watchdog.watching(str(task.request.id)):
            try:
                batch = PredictBatch.model_validate(payload)
                clock = time.perf_counter()
                stars = predictor.predict_stars(batch)
                predict_s = time.perf_counter() - clock
            except Exception as error:
                metrics.batch_failed(predictor.version, error)
                raise
        metrics.batch_done(predictor.version, batch.rows, predict_s)
        logger.debug(
            "batch %s: %d rows in %.1f ms",
            task.request.id,
            batch.rows,
            predict_s * 1000,
            extra={"task_id": task.request.id, "rows": batch.rows},
        )
        return BatchResult(
            model_version=predictor.version,
            model_features=model_features,
            stars=[float(value) for value in stars],
            worker=str(task.request.hostname),
            queue_wait_s=max(0.0, started - batch.sent_at),
            predict_s=predict_s,
        ).model_dump()

    task: Task = predict_batch
    return task
