"""Primary limits (token rotation, waiting for the reset), secondary limits, and server faults."""

from __future__ import annotations

from collections import deque

import pytest
from pydantic import SecretStr

from starcast.extraction.checkpoint import Checkpoint
from starcast.extraction.graphql import MalformedResponseError
from starcast.extraction.spec import RunSpec
from tests.integration.extraction.conftest import (
    SECRETS,
    GitHubFactory,
    extract,
    settings_for,
    stored_ids,
)
from tests.support.github_server import Faults

pytestmark = pytest.mark.integration


SPEC = RunSpec(min_stars=10)


def expected_ids(server: object) -> set[str]:
    return {r.node_id for r in server.matching("stars:>=10 fork:true")}  # type: ignore[attr-defined]


@pytest.mark.parametrize("refusal_status", [200, 403])
def test_a_spent_token_is_rotated_out_for_the_next(
    github: GitHubFactory, checkpoint: Checkpoint, refusal_status: int
) -> None:
    server = github({"alpha": 0, "beta": 5000}, rate_limited_status=refusal_status)

    summary = extract(SPEC, settings_for(server, "alpha", "beta"), checkpoint)

    assert set(stored_ids(checkpoint)) == expected_ids(server)
    alpha = [r for r in server.requests if r.token == "alpha"]
    assert alpha and all(r.status == refusal_status and r.cost == 0 for r in alpha)
    assert summary.primary_limits == len(alpha)
    assert server.stats()["tokens"]["beta"]["graphql_points"] == summary.points_spent


def test_tokens_share_the_work_and_the_run_waits_for_the_reset(
    github: GitHubFactory, checkpoint: Checkpoint
) -> None:
    # ~690 points of work, 2 x 300 per two-second window: both tokens, then a reset.
    server = github({"alpha": 300, "beta": 300}, window_seconds=2)

    extract(SPEC, settings_for(server, "alpha", "beta"), checkpoint)

    assert set(stored_ids(checkpoint)) == expected_ids(server)
    charged = [r for r in server.graphql_requests() if r.status == 200]
    assert {r.token for r in charged} == {"alpha", "beta"}
    first_window_end = charged[0].at + 2
    assert any(r.at >= first_window_end for r in charged)  # it went on after a reset
    refused = [r for r in server.graphql_requests() if r.status != 200]
    assert len(refused) <= 2  # it planned from rateLimit instead of running into the wall


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_waits_for_retry_after(
    github: GitHubFactory, checkpoint: Checkpoint, status: int
) -> None:
    server = github(faults=Faults(graphql_secondary=deque([2]), secondary_status=status))

    summary = extract(SPEC, settings_for(server), checkpoint)

    assert set(stored_ids(checkpoint)) == expected_ids(server)
    limited, after = server.graphql_requests()[:2]
    assert limited.status == status
    assert after.at - limited.at >= 1.95
    assert summary.secondary_limits == 1


def test_secondary_limit_without_retry_after_backs_off(
    github: GitHubFactory, checkpoint: Checkpoint
) -> None:
    server = github(faults=Faults(graphql_secondary=deque([None, None])))

    extract(SPEC, settings_for(server, secondary_wait_seconds=0.3), checkpoint)

    first, second, third = server.graphql_requests()[:3]
    assert (first.status, second.status, third.status) == (403, 403, 200)
    assert second.at - first.at >= 0.29
    assert third.at - second.at >= 0.59  # doubled while the limit went on


def test_concurrency_stays_within_the_bound(github: GitHubFactory, checkpoint: Checkpoint) -> None:
    # The server refuses (403, secondary) any request beyond 2 in flight.
    server = github(faults=Faults(latency=0.02), max_concurrency=2)

    extract(SPEC, settings_for(server, max_concurrency=2), checkpoint)

    assert set(stored_ids(checkpoint)) == expected_ids(server)
    assert all(r.status == 200 for r in server.graphql_requests())


def test_gateway_errors_are_retried(github: GitHubFactory, checkpoint: Checkpoint) -> None:
    server = github(faults=Faults(graphql_statuses=deque([502, 504, 502])))

    summary = extract(SPEC, settings_for(server), checkpoint)

    assert set(stored_ids(checkpoint)) == expected_ids(server)
    assert summary.retries == 3


def test_a_malformed_response_is_an_error_naming_the_query(
    github: GitHubFactory, checkpoint: Checkpoint
) -> None:
    server = github(faults=Faults(malformed=100))

    with pytest.raises(MalformedResponseError, match=r"count probe .*not JSON"):
        extract(SPEC, settings_for(server, max_attempts=2), checkpoint)
    assert len(server.graphql_requests()) == 2


def test_a_rejected_token_is_dropped_and_named_by_its_label_only(
    github: GitHubFactory, checkpoint: Checkpoint, caplog: pytest.LogCaptureFixture
) -> None:
    server = github({"beta": 5000})
    unknown = "ghp_unknownTOKENvalue0003"  # this server answers 401 Bad credentials
    settings = settings_for(server, "beta").model_copy(
        update={"tokens": SecretStr(f"{unknown} {SECRETS['beta']}")}
    )

    with caplog.at_level("DEBUG"):
        extract(SPEC, settings, checkpoint)

    assert set(stored_ids(checkpoint)) == expected_ids(server)
    assert "token 1 disabled: GitHub rejected it (401 Bad credentials)" in caplog.text
    assert unknown not in caplog.text
