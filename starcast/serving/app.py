"""The frontend application: FastAPI routes in front of the micro-batcher and the Celery queue."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from starcast.github import RepositoryLookup
from starcast.serving.batching import MicroBatcher
from starcast.serving.dispatch import BatchDispatcher
from starcast.serving.errors import install_error_handlers
from starcast.serving.metrics import ServingMetrics
from starcast.serving.middleware import BodyLimitMiddleware, MetricsMiddleware
from starcast.serving.model_info import load_served_model
from starcast.serving.probe import ReadinessProbe
from starcast.serving.routers import health, metrics, model, pages, predict
from starcast.serving.routers.docs import install_docs
from starcast.serving.services import Services
from starcast.serving.settings import FrontendSettings
from starcast.serving.showcase import load_showcase

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
DESCRIPTION = """
Predicts how many stars a GitHub repository has from its metadata.

`POST /api/v1/predict` takes one or many repositories by their features (or by `owner/name`
when the server has a GitHub token). Concurrent requests are batched together and predicted by
Celery workers over RabbitMQ; every prediction names the model version that made it.
"""


def create_app(settings: FrontendSettings, *, lookup: RepositoryLookup | None = None) -> FastAPI:
    serving_metrics = ServingMetrics()
    dispatcher = BatchDispatcher(settings, serving_metrics)
    services = Services(
        settings=settings,
        metrics=serving_metrics,
        dispatcher=dispatcher,
        batcher=MicroBatcher(
            dispatcher,
            serving_metrics,
            window_s=settings.batch_window_ms / 1000,
            max_rows=settings.max_batch_rows,
            max_in_flight=settings.max_batches_in_flight,
        ),
        probe=ReadinessProbe(dispatcher.celery, settings.queue, settings.readiness_cache_s),
        templates=Jinja2Templates(directory=TEMPLATES_DIR),
        lookup=lookup,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.showcase = await asyncio.to_thread(
            load_showcase, settings.showcase_dataset_uri, settings.showcase_rows
        )
        if settings.model_uri is not None:
            services.model = await asyncio.to_thread(load_served_model, settings.model_uri)
        await dispatcher.start()
        # Start-up objects live as long as the process; full GC passes over them are pauses.
        gc.freeze()
        logger.info("frontend up; replies on %s", dispatcher.reply_queue)
        try:
            yield
        finally:
            await dispatcher.stop()
            if lookup is not None:
                await lookup.aclose()

    app = FastAPI(
        title="starcast",
        version=metadata.version("starcast"),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # routers/docs.py serves /docs from local files
        redoc_url=None,  # ReDoc has no packaged copy: it would load from a CDN
    )
    app.state.services = services
    install_error_handlers(app)
    for router in (pages.router, predict.router, model.router, health.router, metrics.router):
        app.include_router(router)
    install_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, metrics=serving_metrics
    )
    app.add_middleware(MetricsMiddleware, metrics=serving_metrics)
    return app
