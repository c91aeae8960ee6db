"""What the routes of one frontend share, built once by `create_app` and typed for the routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from starcast.github import RepositoryLookup
from starcast.serving.batching import MicroBatcher
from starcast.serving.dispatch import BatchDispatcher
from starcast.serving.metrics import ServingMetrics
from starcast.serving.model_info import ServedModel
from starcast.serving.probe import ReadinessProbe
from starcast.serving.settings import FrontendSettings
from starcast.serving.showcase import ShowcaseRepository


@dataclass
class Services:
    settings: FrontendSettings
    metrics: ServingMetrics
    dispatcher: BatchDispatcher
    batcher: MicroBatcher
    probe: ReadinessProbe
    templates: Jinja2Templates
    lookup: RepositoryLookup | None = None
    showcase: list[ShowcaseRepository] = field(default_factory=list)
    model: ServedModel | None = None  # with STARCAST_MODEL_URI: the artifact's manifest, report


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _services(request: Request) -> Services:
    # async on purpose: FastAPI runs a sync dependency in a thread pool, a hop per request.
    return services_of(request)


ServicesDep = Annotated[Services, Depends(_services)]
