"""A second run refreshes what changed and adds what is new, keyed by node id."""

from __future__ import annotations

import pytest

from starcast.extraction.checkpoint import Checkpoint
from starcast.extraction.repositories import repositories
from starcast.extraction.spec import RunSpec
from tests.integration.extraction.conftest import GitHubFactory, extract, settings_for
from tests.support.github_fixture import Fixture, generate

pytestmark = pytest.mark.integration


SPEC = RunSpec(min_stars=50)


def test_second_run_upserts_new_stars_and_snapshot_times(
    github: GitHubFactory, repos: Fixture, checkpoint: Checkpoint
) -> None:
    server = github()
    first = extract(SPEC, settings_for(server), checkpoint)
    before = {r["node_id"]: r for batch in checkpoint.repositories.iter_records() for r in batch}
    changed = sorted(before)[:25]
    for node_id in changed:
        repos.by_id[node_id].stars += 1000
    newcomers = generate(40, seed=99, min_stars=60, start_index=1_000_000)
    repos.repos.extend(newcomers)
    server.invalidate()

    second = extract(SPEC, settings_for(server), checkpoint)

    assert second.run_id != first.run_id and not second.resumed
    after = {r["node_id"]: r for batch in checkpoint.repositories.iter_records() for r in batch}
    assert set(after) == set(before) | {r.node_id for r in newcomers}
    for node_id in changed:
        assert after[node_id]["stars"] == before[node_id]["stars"] + 1000
    assert all(after[n]["snapshot_at"] > before[n]["snapshot_at"] for n in before)
    with checkpoint.repositories.engine.connect() as conn:
        rows = conn.execute(
            repositories.select().with_only_columns(
                repositories.c.node_id, repositories.c.first_seen_at, repositories.c.run_id
            )
        ).all()
    first_seen = {r.node_id: r.first_seen_at for r in rows}
    assert {r.run_id for r in rows} == {second.run_id}
    assert max(first_seen[n] for n in before) < min(first_seen[r.node_id] for r in newcomers)
