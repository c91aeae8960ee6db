"""The systems bench/serving.py measures besides `starcast up`: the seed design and the ceiling.

Each runs as a process of its own (`python -m bench.serving --role ...`); see bench/serving.py
for what each one is and why it is served the way it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from starcast import artifact
from starcast.serving.inference import compile_model
from starcast.serving.metrics import ServingMetrics
from starcast.serving.middleware import BodyLimitMiddleware, MetricsMiddleware
from starcast.serving.schemas import Prediction, PredictRequest, PredictResponse, RepositoryFeatures
from starcast.serving.wire import PredictBatch

SEED_QUEUE: Final = "celery"  # the default queue of a default Celery app


# -- the seed: one Celery task per request, default settings, rpc:// results ----------------------
# Variants for the ablations, by environment: SEED_PREDICTOR=pipeline (the original: the
# scikit-learn Pipeline on a one-row frame) or compiled (starcast's compiled predictor);
# SEED_DELIVERY=persistent (a default Celery app's delivery mode) or transient (starcast's).


def one_row_batch(features: dict[str, Any]) -> PredictBatch:
    row = RepositoryFeatures.model_validate(features).to_row()
    return PredictBatch(rows=1, columns={k: [v] for k, v in row.items()}, sent_at=0)


def one_row_frame(features: dict[str, Any]) -> pd.DataFrame:
    """An API request's features as the model's frame: what the original app predicted on."""
    return one_row_batch(features).to_frame()


def seed_celery() -> Any:
    from celery import Celery

    app = Celery("seed", broker=os.environ["SEED_BROKER_URL"], backend="rpc://")
    app.conf.task_default_queue = os.environ.get("SEED_QUEUE", SEED_QUEUE)
    if os.environ.get("SEED_DELIVERY", "persistent") == "transient":
        app.conf.task_default_delivery_mode = "transient"
    return app


def run_seed_worker() -> None:
    app = seed_celery()
    model = artifact.load_artifact(os.environ["SEED_MODEL_URI"])
    predict_one: Callable[[dict[str, Any]], float]
    if os.environ.get("SEED_PREDICTOR", "pipeline") == "compiled":
        compiled = compile_model(model)

        def predict_one(features: dict[str, Any]) -> float:
            return float(compiled.predict_stars(one_row_batch(features))[0])
    else:

        def predict_one(features: dict[str, Any]) -> float:
            return float(model.predict_stars(one_row_frame(features))[0])

    @app.task(name="seed.predict")  # type: ignore[untyped-decorator]
    def predict(features: dict[str, Any]) -> dict[str, Any]:
        return {"stars": predict_one(features), "model_version": model.version}

    queue = app.conf.task_default_queue
    app.worker_main(
        [
            *("worker", "--loglevel=WARNING", "--without-gossip", "--without-mingle"),
            *("-Q", queue, f"--hostname={queue}@%h"),  # a node name per variant on the broker
        ]
    )


def run_ceiling(port: int) -> None:
    """The best one process can do: starcast's FastAPI stack (request and response models,
    middleware, uvicorn as `serve frontend` runs it) predicting each request in the process with
    the compiled model, no queue and no worker."""
    import uvicorn
    from fastapi import FastAPI, Response

    model = artifact.load_artifact(os.environ["SEED_MODEL_URI"])
    compiled = compile_model(model)
    app = FastAPI(title="ceiling")

    @app.post("/api/v1/predict")
    async def predict(request: PredictRequest) -> Response:
        rows = [item.features.to_row() for item in request.repositories if item.features]
        names = sorted({name for row in rows for name in row})
        columns = {name: [row.get(name) for row in rows] for name in names}
        stars = compiled.predict_stars(PredictBatch(rows=len(rows), columns=columns, sent_at=0))
        answer = PredictResponse(
            predictions=[
                Prediction(
                    full_name=item.full_name,
                    predicted_stars=float(value),
                    model_version=model.version,
                )
                for item, value in zip(request.repositories, stars, strict=True)
            ]
        )
        return Response(answer.model_dump_json(), media_type="application/json")

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"ceiling": model.version}

    metrics = ServingMetrics()
    app.add_middleware(BodyLimitMiddleware, max_bytes=1 << 20, metrics=metrics)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def run_seed_frontend(port: int) -> None:
    """The seed's Flask app. Served by werkzeug with a fixed pool of threads: its dev server
    starts a thread per connection, and Celery's rpc backend keeps one reply queue per thread
    id; thread ids are reused, so replies land on dead threads' consumers and requests time out
    under any concurrency. A persistent pool measures the seed at its best instead."""
    from concurrent.futures import ThreadPoolExecutor

    from flask import Flask, jsonify, request
    from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

    celery_app = seed_celery()
    flask_app = Flask("seed")

    @flask_app.post("/api/v1/predict")
    def predict() -> Any:
        repository = request.get_json()["repositories"][0]
        result = celery_app.send_task("seed.predict", args=[repository["features"]]).get(timeout=30)
        return jsonify(
            {
                "predictions": [
                    {
                        "full_name": repository.get("full_name"),
                        "predicted_stars": result["stars"],
                        "model_version": result["model_version"],
                    }
                ]
            }
        )

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any) -> None:
            pass  # a log line per request would slow the seed down; be generous to it

    class PooledServer(BaseWSGIServer):
        multithread = True
        pool = ThreadPoolExecutor(max_workers=256, thread_name_prefix="seed")

        def process_request(self, connection: Any, address: Any) -> None:
            self.pool.submit(self._serve, connection, address)

        def _serve(self, connection: Any, address: Any) -> None:
            try:
                self.finish_request(connection, address)
            except Exception:
                self.handle_error(connection, address)
            finally:
                self.shutdown_request(connection)

    PooledServer("127.0.0.1", port, flask_app, handler=QuietHandler).serve_forever()


# -- load ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class System:
    """One way of serving the same model, as the report names it."""

    name: str
    design: str
    predictor: str
    delivery: str


SYSTEMS: Final = (
    System("starcast", "micro-batches over Celery", "compiled", "transient"),
    System("starcast-nobatch", "starcast, a task per request", "compiled", "transient"),
    System("seed", "one Celery task per request", "pipeline", "persistent"),
    System("seed-compiled", "one Celery task per request", "compiled", "persistent"),
    System("seed-compiled-transient", "one Celery task per request", "compiled", "transient"),
    System("ceiling", "one process, no queue", "compiled", "-"),
)
SYSTEMS_BY_NAME: Final = {system.name: system for system in SYSTEMS}
