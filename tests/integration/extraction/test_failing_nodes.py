"""One repository GitHub can't resolve must not sink the hundred fetched with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from starcast.extraction.checkpoint import Checkpoint
from starcast.extraction.spec import RunSpec
from tests.integration.extraction.conftest import GitHubFactory, extract, settings_for, stored_ids
from tests.support.github_fixture import Fixture
from tests.support.github_server import Faults

pytestmark = pytest.mark.integration


SPEC = RunSpec(min_stars=10)


def test_a_batch_with_one_failing_node_is_retried_then_split_around_it(
    github: GitHubFactory, checkpoint: Checkpoint
) -> None:
    server = github(faults=Faults(poison_mode="timeout"))
    expected = {r.node_id for r in server.matching("stars:>=10 fork:true")}
    poison = sorted(expected)[len(expected) // 2]
    server.faults.poison_ids.add(poison)

    summary = extract(SPEC, settings_for(server, max_attempts=2), checkpoint)

    assert set(stored_ids(checkpoint)) == expected - {poison}
    assert [(node, state) for node, state, _ in summary.failed] == [(poison, "failed")]
    # Its search page timed out twice (retried), then its ids went by id in batches that
    # halved around the failure: 100 -> 50 -> 25 -> ... -> the poison alone.
    nodes = server.graphql_requests("Nodes")
    alone = [r for r in nodes if r.variables["ids"] == [poison]]
    assert len(alone) == 2 and all(r.status == 502 for r in alone)
    sizes = sorted({len(r.variables["ids"]) for r in nodes}, reverse=True)
    assert sizes[0] > 1 and sizes[-1] == 1 and len(sizes) >= 4
    fetched_by_id = {i for r in nodes if r.status == 200 for i in r.variables["ids"]}
    assert len(fetched_by_id) == sizes[0] - 1 and poison not in fetched_by_id


def test_a_node_with_a_failing_field_keeps_the_rest_and_marks_what_is_unknown(
    github: GitHubFactory, checkpoint: Checkpoint
) -> None:
    server = github(faults=Faults(poison_mode="partial"))
    expected = {r.node_id for r in server.matching("stars:>=10 fork:true")}
    poison = sorted(expected)[7]
    server.faults.poison_ids.add(poison)

    summary = extract(SPEC, settings_for(server), checkpoint)

    assert set(stored_ids(checkpoint)) == expected
    records = {r["node_id"]: r for batch in checkpoint.repositories.iter_records() for r in batch}
    assert records[poison]["commits_total"] is None
    assert records[poison]["stars"] == server.fixture.by_id[poison].stars
    assert [(node, state) for node, state, _ in summary.failed] == [(poison, "incomplete")]
    others_unknown = [r for n, r in records.items() if n != poison and r["commits_total"] is None]
    assert others_unknown == []
    # The poison was retried on its own, by id, not with its whole page.
    assert all(r.variables["ids"] == [poison] for r in server.graphql_requests("Nodes"))


def test_a_repository_deleted_before_its_retry_is_recorded_not_found(
    github: GitHubFactory, repos: Fixture, checkpoint: Checkpoint
) -> None:
    server = github(faults=Faults(poison_mode="timeout"))
    expected = {r.node_id for r in server.matching("stars:>=10 fork:true")}
    poison = sorted(expected)[3]
    server.faults.poison_ids.add(poison)

    def delete_it(operation: str, variables: Mapping[str, Any]) -> None:
        """Its page failed; by the time it is asked for by id, it is gone (GitHub: NOT_FOUND)."""
        if operation == "Nodes" and poison in repos.by_id:
            repos.repos.remove(repos.by_id[poison])
            server.invalidate()

    server.before_graphql = delete_it
    summary = extract(SPEC, settings_for(server, max_attempts=2), checkpoint)

    assert set(stored_ids(checkpoint)) == expected - {poison}
    assert [(node, state) for node, state, _ in summary.failed] == [(poison, "not_found")]
