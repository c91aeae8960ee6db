"""Configuration of the two serving deployables, the frontend and the worker, from STARCAST_* env.

Both read the same queue settings (broker, result backend, queue, limits), so a frontend and the
workers it feeds agree as long as they share the environment the chart (or `starcast up`) sets.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from starcast.github import GITHUB_GRAPHQL_URL
from starcast.placeholders import is_placeholder
from starcast.sample import sample_dataset_uri

DEFAULT_PORT: Final = 5100
DEFAULT_QUEUE: Final = "starcast.predict"
RPC_BACKEND: Final = "rpc://"
NO_BROKER: Final = (
    "STARCAST_BROKER_URL is not set: name the RabbitMQ the frontend and the workers share "
    "(amqp://user:password@host:5672/vhost); only `starcast up`, which starts a private broker, "
    "chooses one for you"
)
NO_DIGEST: Final = (
    "STARCAST_MODEL_SHA256 is not set: a worker serves only the model whose sha256 it is given "
    "(the ModelRelease's digest, or manifest.json's model_sha256 of a model you trust), so an "
    "artifact cannot vouch for itself; `starcast up` sets it for the model it trained"
)


def _default_ready_file() -> Path:
    return Path(tempfile.gettempdir()) / "starcast-worker.ready"


class QueueSettings(BaseSettings):
    """What both sides of the queue must agree on."""

    # Errors never echo the input: it holds the broker's password and the GitHub token.
    model_config = SettingsConfigDict(
        env_prefix="STARCAST_", extra="ignore", hide_input_in_errors=True
    )

    broker_url: str = Field(
        min_length=1,
        description="Celery broker URL (RabbitMQ: amqp://user:password@host:port/vhost); "
        "required: the broker's credentials come from the deployment, never from a default",
    )
    broker_transport: str | None = Field(
        default=None,
        description="kombu transport (alias or module:Class); unset: the broker URL's scheme",
    )
    broker_transport_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="kombu transport options as JSON, e.g. the folders of the filesystem "
        "transport `starcast up` falls back to without RabbitMQ.",
    )
    result_backend: str = Field(
        default=RPC_BACKEND,
        description="Celery result backend. Only rpc:// is supported: results travel back to the "
        "requesting frontend as messages on its own reply queue (see starcast/serving/README.md).",
    )
    queue: str = Field(default=DEFAULT_QUEUE, min_length=1, description="task queue name")
    task_time_limit_s: float = Field(
        default=30.0,
        gt=0,
        description="time limit of one batch on a worker; past it the worker exits and the "
        "batch goes back to the queue (time_limit.py)",
    )

    @model_validator(mode="before")
    @classmethod
    def _broker_named(cls, data: Any) -> Any:
        if isinstance(data, dict) and not str(data.get("broker_url") or "").strip():
            raise ValueError(NO_BROKER)
        return data

    @field_validator("broker_url")
    @classmethod
    def _no_placeholder_password(cls, value: str) -> str:
        password = urlsplit(value).password
        if password is not None and is_placeholder(unquote(password)):
            raise ValueError(
                "the password in STARCAST_BROKER_URL is a placeholder; set the broker's real one"
            )
        return value

    @field_validator("result_backend")
    @classmethod
    def _rpc_only(cls, value: str) -> str:
        if not value.startswith(RPC_BACKEND):
            raise ValueError(
                f"result backend {value!r} is not supported: the frontend receives results on "
                f"its own reply queue, which is how the {RPC_BACKEND} backend answers; "
                f"set STARCAST_RESULT_BACKEND={RPC_BACKEND}"
            )
        return value


class WorkerSettings(QueueSettings):
    """A Celery worker serving one model version."""

    model_uri: str = Field(description="model artifact URI (file:// or s3://)")
    model_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="expected sha256 of the model file (the ModelRelease's digest); required, "
        "and the worker refuses to become ready on a mismatch",
    )
    worker_ready_file: Path = Field(
        default_factory=_default_ready_file,
        description="written once the model is verified and a smoke prediction passed; "
        "the chart's readiness probe tests for it",
    )
    worker_alive_file: Path | None = Field(
        default=None,
        description="touched every worker_alive_interval_s by the consumer's own loop while it "
        "runs; a liveness probe restarts a worker whose file goes stale (a hung process). "
        "Unset: no heartbeat file",
    )
    worker_alive_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="seconds between touches of worker_alive_file",
    )
    worker_concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="batches one worker process predicts at once (threads); scale with more "
        "worker processes rather than more threads",
    )
    worker_prefetch_multiplier: int = Field(
        default=2,
        ge=1,
        le=16,
        description="unacknowledged batches per process: the one it runs and the next, so it "
        "doesn't wait a broker round trip (ack, then delivery) between batches",
    )
    worker_threads: int = Field(
        default=1,
        ge=1,
        description="BLAS/OpenMP threads per process; more than the cores a pod has only spins",
    )
    worker_hostname: str | None = Field(
        default=None, description="Celery node name (default: starcast-worker-<pid>@<host>)"
    )
    worker_metrics_host: str = Field(default="0.0.0.0", description="address of /metrics")
    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Prometheus /metrics port (series labelled with model_version); 0: none",
    )

    @model_validator(mode="before")
    @classmethod
    def _digest_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and "model_uri" in data and not data.get("model_sha256"):
            raise ValueError(NO_DIGEST)
        return data


class FrontendSettings(QueueSettings):
    """The HTTP frontend: pages, JSON API, health and metrics."""

    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535, description="port to listen on")
    listen_fd: int | None = Field(
        default=None,
        ge=0,
        description="serve on this inherited listening socket instead of binding host:port "
        "(`starcast up` holds the socket, so a restarted frontend keeps it)",
    )
    model_uri: str | None = Field(
        default=None,
        description="artifact of the model the workers serve: its manifest and report.png "
        "feed `/` and `/api/v1/model` (unset: only what the workers report with each result)",
    )
    request_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="deadline of one prediction request"
    )
    batch_window_ms: float = Field(
        default=10.0,
        ge=0,
        le=1000,
        description="while batches are at the workers, how long a new batch collects rows "
        "before it is sent (with none out, rows leave at once)",
    )
    max_batch_rows: int = Field(
        default=512, ge=1, le=10_000, description="rows in one batch sent to a worker"
    )
    max_batches_in_flight: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="batches this frontend keeps at the workers at once; rows wait and batch up "
        "meanwhile. About the worker processes it can count on: fewer leaves workers idle, "
        "more makes smaller batches.",
    )
    max_request_repositories: int = Field(
        default=1000, ge=1, le=100_000, description="repositories in one API request"
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="largest request body accepted"
    )
    github_token: SecretStr | None = Field(
        default=None, description="GitHub token; enables prediction by owner/name"
    )
    github_graphql_url: AnyHttpUrl = Field(
        default=AnyHttpUrl(GITHUB_GRAPHQL_URL),
        description="GitHub's GraphQL endpoint for prediction by owner/name, as the extractor's "
        "STARCAST_GITHUB_GRAPHQL_URL (GitHub Enterprise Server: https://HOST/api/graphql)",
    )
    showcase_dataset_uri: str = Field(
        default_factory=sample_dataset_uri,
        description="dataset whose repositories the /predictions page shows",
    )
    showcase_rows: int = Field(default=20, ge=1, le=500, description="rows on /predictions")
    readiness_cache_s: float = Field(
        default=2.0, ge=0, description="how long a /readyz worker ping answer is reused"
    )

    @field_validator("github_token")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and is_placeholder(value.get_secret_value()):
            raise ValueError("STARCAST_GITHUB_TOKEN is a placeholder; set a real token or unset it")
        return value
