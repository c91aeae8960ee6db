"""What `starcast up` runs, from STARCAST_* env and its command-line options."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from starcast.serving.settings import DEFAULT_PORT


def default_state_dir() -> Path:
    """$XDG_DATA_HOME/starcast, else ~/.local/share/starcast."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "starcast"


MIN_DEFAULT_WORKERS = 2


def default_workers() -> int:
    """One per core but one (left to the frontend and the broker), and never fewer than two:
    with one, its crash stalls all serving until it is back; with two the other serves on."""
    return max(MIN_DEFAULT_WORKERS, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class RunDirs:
    """The folders of one `up` run: its logs and its ready files, its own alone, so two runs
    (on two ports, or one after another) never write into each other's files."""

    logs: Path
    ready: Path

    @classmethod
    def new(cls, state_dir: Path, *, started: datetime | None = None, pid: int = 0) -> RunDirs:
        """<state dir>/logs/<UTC start>-<pid>/, and the same name under <state dir>/run/."""
        moment = started or datetime.now(UTC)
        name = f"{moment:%Y%m%dT%H%M%SZ}-{pid or os.getpid()}"
        return cls(logs=state_dir / "logs" / name, ready=state_dir / "run" / name)


class UpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STARCAST_", extra="ignore")

    broker_url: str | None = Field(
        default=None,
        description="use this broker; unset: start a private RabbitMQ, or fall back to kombu's "
        "filesystem transport when RabbitMQ is not installed",
    )
    model_uri: str | None = Field(
        default=None,
        description="model artifact to serve; unset: <state dir>/models/sample, trained on the "
        "bundled sample the first time",
    )
    state_dir: Path = Field(
        default_factory=default_state_dir, description="models, logs and broker data"
    )
    workers: int = Field(
        default_factory=default_workers,
        ge=1,
        le=64,
        description="Celery worker processes (default: one per core but one, left to the "
        "frontend and the broker, and at least two, so one crash never stalls serving)",
    )
    host: str = Field(default="127.0.0.1", description="address the frontend listens on")
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535, description="frontend port")
    startup_timeout_s: float = Field(
        default=180.0, gt=0, description="how long workers and frontend may take to be ready"
    )

    @property
    def resolved_model_uri(self) -> str:
        return self.model_uri or (self.state_dir / "models" / "sample").as_uri()
