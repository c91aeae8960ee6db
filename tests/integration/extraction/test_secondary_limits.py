"""Secondary limits: the backoff is capped, and a limit that never lifts ends in a clear error."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest

from starcast.extraction.checkpoint import Checkpoint
from starcast.extraction.graphql import SecondaryRateLimitError
from starcast.extraction.spec import RunSpec
from tests.integration.extraction.conftest import GitHubFactory, extract, settings_for, stored_ids
from tests.support.github_server import Faults

pytestmark = pytest.mark.integration

SPEC = RunSpec(min_stars=10)


def test_the_wait_doubles_up_to_its_cap(github: GitHubFactory, checkpoint: Checkpoint) -> None:
    server = github(faults=Faults(graphql_secondary=deque([None] * 5)))
    settings = settings_for(server, secondary_wait_seconds=0.2, secondary_max_wait_seconds=0.25)

    summary = extract(SPEC, settings, checkpoint)

    assert summary.secondary_limits == 5
    at = [r.at for r in server.graphql_requests()[:6]]
    gaps = [later - earlier for earlier, later in pairwise(at)]
    assert gaps[0] >= 0.19
    # Uncapped, the waits would be 0.4, 0.8 and 1.6 s; capped, each is 0.25 s.
    assert all(0.24 <= gap < 0.8 for gap in gaps[1:]), gaps
    assert stored_ids(checkpoint)


def test_a_limit_that_never_lifts_stops_the_run_saying_what_to_do(
    github: GitHubFactory, checkpoint: Checkpoint
) -> None:
    server = github(faults=Faults(graphql_secondary=deque([None] * 50)))
    settings = settings_for(server, secondary_wait_seconds=0.05, secondary_attempts=3)

    with pytest.raises(SecondaryRateLimitError) as stopped:
        extract(SPEC, settings, checkpoint)

    assert "secondary rate limit answered all 3 attempts" in str(stopped.value)
    assert "STARCAST_GITHUB_MAX_CONCURRENCY" in str(stopped.value)
    assert len(server.graphql_requests()) == 3


def test_the_database_is_written_off_the_event_loop(
    github: GitHubFactory, checkpoint: Checkpoint
) -> None:
    """SQLAlchemy blocks: every database call runs in a worker thread, never the loop's."""
    server = github()
    loop_thread = threading.get_ident()
    calls: list[tuple[str, int]] = []

    def traced(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, threading.get_ident()))
            return method(*args, **kwargs)

        return call

    for target in (checkpoint, checkpoint.repositories):
        kind = type(target)
        for name in [n for n in dir(kind) if not n.startswith("_") and callable(getattr(kind, n))]:
            if name != "connect":
                setattr(target, name, traced(name, getattr(target, name)))

    extract(RunSpec(min_stars=10, contributors=True), settings_for(server), checkpoint)

    names = {name for name, _ in calls}
    wanted = {"create_run", "save_plan", "commit_page", "upsert", "set_contributors", "count"}
    assert wanted <= names
    on_loop = sorted({name for name, thread in calls if thread == loop_thread})
    assert on_loop == []
