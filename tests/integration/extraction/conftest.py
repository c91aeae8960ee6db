"""A fake GitHub per test (real HTTP on a free loopback port) and helpers to run extractions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from starcast.extraction.checkpoint import Checkpoint
from starcast.extraction.progress import QuietProgress
from starcast.extraction.run import RunSummary, run_extraction
from starcast.extraction.settings import GitHubSettings
from starcast.extraction.spec import RunSpec
from tests.support.github_fixture import Fixture, generate
from tests.support.github_server import FakeGitHub, Faults, Limits

REPOSITORIES = 4000  # enough that one star value alone holds more than search's 1,000 cap
SECRETS = {"alpha": "ghp_alphaSECRETtoken0001", "beta": "ghp_betaSECRETtoken0002"}

GitHubFactory = Callable[..., FakeGitHub]


@pytest.fixture
def repos() -> Fixture:
    return Fixture(generate(REPOSITORIES, seed=11))


@pytest.fixture
def github(repos: Fixture) -> Iterator[GitHubFactory]:
    """Start a fake GitHub: `github(points={"alpha": 5000}, window_seconds=..., faults=...)`."""
    started: list[FakeGitHub] = []

    def start(
        points: Mapping[str, int] | None = None,
        *,
        faults: Faults | None = None,
        **limits: Any,
    ) -> FakeGitHub:
        budgets = dict(points or {"alpha": 5000})
        tokens = {SECRETS[label]: label for label in budgets}
        server = FakeGitHub(repos, tokens, Limits(budgets, **limits), faults=faults).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def settings_for(server: FakeGitHub, *labels: str, **overrides: Any) -> GitHubSettings:
    """Settings pointing at `server` with short waits (its windows are seconds, not an hour)."""
    tokens = " ".join(SECRETS[label] for label in labels or ("alpha",))
    values: dict[str, Any] = {
        "api_url": server.url,
        "tokens": SecretStr(tokens),
        "backoff_seconds": 0.01,
        "secondary_wait_seconds": 0.2,
        "reset_margin_seconds": 0.05,
        **overrides,
    }
    return GitHubSettings(**values)


@pytest.fixture
def checkpoint(tmp_path: Path) -> Iterator[Checkpoint]:
    """A run's checkpoint and the repository table it writes into, in a fresh SQLite file."""
    with Checkpoint.connect(f"sqlite:///{tmp_path / 'extract.sqlite'}") as checkpoint:
        yield checkpoint


def extract(spec: RunSpec, settings: GitHubSettings, checkpoint: Checkpoint) -> RunSummary:
    return asyncio.run(run_extraction(spec, settings, checkpoint, QuietProgress()))


def stored_ids(checkpoint: Checkpoint) -> list[str]:
    return [r["node_id"] for batch in checkpoint.repositories.iter_records() for r in batch]
