"""Search returns at most 1,000 results per query: slicing must still reach every repository."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from starcast.extraction import queries
from starcast.extraction.checkpoint import Checkpoint
from starcast.extraction.spec import RunSpec
from tests.integration.extraction.conftest import (
    GitHubFactory,
    extract,
    settings_for,
    stored_ids,
)
from tests.support.github_fixture import FakeRepo, Fixture, generate

pytestmark = pytest.mark.integration


def test_slicing_past_the_cap_collects_every_repository_exactly_once(
    github: GitHubFactory, repos: Fixture, checkpoint: Checkpoint
) -> None:
    server = github()
    expected = {r.node_id for r in server.matching("stars:>=10 fork:true")}
    busiest_star_value = Counter(r.stars for r in repos.repos).most_common(1)[0][1]
    assert len(expected) > 3 * queries.SEARCH_RESULT_CAP
    assert busiest_star_value > queries.SEARCH_RESULT_CAP  # stars alone can't slice it

    summary = extract(RunSpec(min_stars=10), settings_for(server), checkpoint)

    ids = stored_ids(checkpoint)
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    assert summary.truncated_slices == 0
    plans = checkpoint.slices(summary.run_id)
    assert all(s.expected <= queries.SEARCH_RESULT_CAP and s.done for s in plans)
    assert sum(s.fetched for s in plans) == len(expected)
    # A single star value was split by creation date.
    single_value = [s for s in plans if (lo := s.query.split()[0][6:].split(".."))[0] == lo[-1]]
    assert any(s.expected > 0 for s in single_value)
    # Pages never reach past the cap: GitHub would return nothing there.
    for request in server.graphql_requests("SearchPage"):
        assert len(server.matching(str(request.variables["query"]))) <= queries.SEARCH_RESULT_CAP


def test_languages_and_star_bounds_select_exactly_their_repositories(
    github: GitHubFactory, checkpoint: Checkpoint
) -> None:
    server = github()
    spec = RunSpec(min_stars=12, max_stars=500, languages=("Python", "Go"), forks=False)
    expected = {
        r.node_id
        for language in ("python", "go")
        for r in server.matching(f"stars:12..500 language:{language}")
    }

    extract(spec, settings_for(server), checkpoint)

    assert set(stored_ids(checkpoint)) == expected
    assert len(stored_ids(checkpoint)) == len(expected)


def test_points_spent_stay_within_five_percent_of_the_documented_minimum(
    github: GitHubFactory, checkpoint: Checkpoint
) -> None:
    server = github()
    summary = extract(RunSpec(min_stars=10), settings_for(server), checkpoint)

    minimum = queries.minimum_points(summary.stored)
    assert server.points_used() == summary.points_spent
    assert server.points_used() <= minimum * 1.05


def test_a_slice_that_outgrew_the_cap_since_planning_is_split_again(
    github: GitHubFactory, repos: Fixture, checkpoint: Checkpoint
) -> None:
    server = github()
    added: list[FakeRepo] = []

    def grow(operation: str, variables: Mapping[str, Any]) -> None:
        """Before the first page, 1,200 new repositories land in the slice it asks for."""
        if operation != "SearchPage" or added:
            return
        match = re.match(r"stars:(\d+)\.\.\d+ created:(\S+)\.\.", str(variables["query"]))
        assert match is not None
        stars, start = int(match.group(1)), datetime.fromisoformat(match.group(2))
        for offset, repo in enumerate(generate(1200, seed=5, start_index=2_000_000)):
            repo.stars, repo.is_fork = stars, False
            repo.created_at = start + timedelta(seconds=offset)
            added.append(repo)
        repos.repos.extend(added)
        server.invalidate()

    server.before_graphql = grow
    summary = extract(RunSpec(min_stars=10), settings_for(server, max_concurrency=1), checkpoint)

    expected = {r.node_id for r in server.matching("stars:>=10 fork:true")}
    assert len(added) == 1200 and {r.node_id for r in added} <= expected
    ids = stored_ids(checkpoint)
    assert len(ids) == len(set(ids)) == len(expected) and set(ids) == expected
    assert all(s.expected <= queries.SEARCH_RESULT_CAP for s in checkpoint.slices(summary.run_id))
