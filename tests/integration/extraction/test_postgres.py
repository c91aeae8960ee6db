"""The same extraction into PostgreSQL: native upserts, times kept in UTC, a refresh on top."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from starcast.extraction.checkpoint import Checkpoint
from starcast.extraction.spec import RunSpec
from tests.integration.extraction.conftest import GitHubFactory, extract, settings_for, stored_ids
from tests.integration.extraction.postgres import postgres_server
from tests.support.github_fixture import Fixture

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def test_extract_into_postgres_and_refresh(
    github: GitHubFactory, repos: Fixture, postgres_url: str, request: pytest.FixtureRequest
) -> None:
    server = github()
    checkpoint = Checkpoint.connect(postgres_url)
    request.addfinalizer(checkpoint.close)
    spec = RunSpec(min_stars=40)
    expected = {r.node_id for r in server.matching("stars:>=40 fork:true")}

    first = extract(spec, settings_for(server), checkpoint)
    changed = sorted(expected)[0]
    repos.by_id[changed].stars += 5
    server.invalidate()
    second = extract(spec, settings_for(server), checkpoint)

    table = checkpoint.repositories
    assert set(stored_ids(checkpoint)) == expected and table.count() == len(expected)
    records = {r["node_id"]: r for batch in table.iter_records() for r in batch}
    assert records[changed]["stars"] == repos.by_id[changed].stars
    fixture_created = repos.by_id[changed].created_at
    assert records[changed]["created_at"] == fixture_created  # UTC in, UTC out
    assert table.count(second.run_id) == len(expected) and table.count(first.run_id) == 0
