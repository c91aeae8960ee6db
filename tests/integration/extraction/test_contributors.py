"""Contributors over REST: Link-header counts, a too-large list recorded as unknown."""

from __future__ import annotations

from collections import deque

import pytest

from starcast.extraction.checkpoint import Checkpoint
from starcast.extraction.spec import RunSpec
from tests.integration.extraction.conftest import GitHubFactory, extract, settings_for
from tests.support.github_server import Faults

pytestmark = pytest.mark.integration


def test_contributors_are_counted_and_too_large_lists_are_flagged_unknown(
    github: GitHubFactory, checkpoint: Checkpoint
) -> None:
    server = github(faults=Faults(rest_secondary=deque([1])))
    selected = server.matching("stars:>=200 fork:true")
    too_large = selected[0].full_name
    server.faults.too_large.add(too_large)

    spec = RunSpec(min_stars=200, contributors=True)
    summary = extract(spec, settings_for(server, max_concurrency=1), checkpoint)

    records = {r["full_name"]: r for batch in checkpoint.repositories.iter_records() for r in batch}
    assert set(records) == {r.full_name for r in selected}
    assert records[too_large]["contributors"] is None
    for repo in selected[1:]:
        expected = 0 if repo.empty else repo.contributors
        assert records[repo.full_name]["contributors"] == expected, repo.full_name
    assert checkpoint.repositories.contributor_status_counts() == {
        "ok": len(selected) - 1,
        "too_large": 1,
    }
    assert summary.rest_requests == len(selected) + 1  # one each, plus the secondary-limited one
    rest = [r for r in server.requests if r.kind == "rest"]
    assert rest[1].at - rest[0].at >= 0.95  # its Retry-After: 1
