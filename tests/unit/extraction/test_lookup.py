"""GitHubRepositoryLookup against the fake GitHub over HTTP: records, cost, cache, limits."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr

from starcast.extraction import lookup as lookup_module
from starcast.extraction import queries
from starcast.extraction.lookup import FailFastTokenPool, GitHubRepositoryLookup, RateLimitedError
from starcast.extraction.run import YEAR
from starcast.extraction.tokens import Lease, Resource
from starcast.features import RECORD_COLUMNS
from starcast.github import LookupFailedError, RepositoryNameError
from tests.support.github_fixture import FakeRepo, Fixture, generate
from tests.support.github_records import extracted_records
from tests.support.github_server import FakeGitHub, Faults, Limits

SECRET = "ghp_frontendSECRETtoken0001"
T = TypeVar("T")
GitHubFactory = Callable[..., FakeGitHub]


@pytest.fixture
def repos() -> Fixture:
    return Fixture(generate(30, seed=5))


@pytest.fixture
def github(repos: Fixture) -> Iterator[GitHubFactory]:
    """`github(points=5000, faults=..., **limits)`: a fake GitHub knowing the frontend's token."""
    started: list[FakeGitHub] = []

    def start(points: int = 5000, *, faults: Faults | None = None, **limits: Any) -> FakeGitHub:
        budgets = {"frontend": points}
        server = FakeGitHub(repos, {SECRET: "frontend"}, Limits(budgets, **limits), faults=faults)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def lookup_for(server: FakeGitHub, secret: str = SECRET, **options: Any) -> GitHubRepositoryLookup:
    return GitHubRepositoryLookup.for_token(
        SecretStr(secret), f"{server.url}/graphql", timeout_s=10, **options
    )


def using(lookup: GitHubRepositoryLookup, body: Callable[[], Awaitable[T]]) -> T:
    """Run `body` in one event loop (the lookup's connections live in it), then close."""

    async def main() -> T:
        try:
            return await body()
        finally:
            await lookup.aclose()

    return asyncio.run(main())


def ask(lookup: GitHubRepositoryLookup, *calls: list[str]) -> list[Mapping[str, Any]]:
    """Each call's answer, one after the other in one loop."""

    async def body() -> list[Mapping[str, Any]]:
        return [await lookup.records(names) for names in calls]

    return using(lookup, body)


def lookups(server: FakeGitHub) -> int:
    return len(server.graphql_requests("Repositories"))


def test_a_looked_up_repository_is_the_record_the_extractor_stores(
    github: GitHubFactory, repos: Fixture
) -> None:
    server = github()
    chosen = [r for r in repos.repos if r.empty][:1] + repos.repos[:5]
    [found] = ask(lookup_for(server), [r.full_name for r in chosen])
    stored = extracted_records(server.url, SECRET, [r.node_id for r in chosen])
    assert lookup_module.COMMIT_WINDOW == YEAR  # commits_last_year: the same year
    assert list(found) == [r.full_name for r in chosen]
    for record, reference in zip(found.values(), stored, strict=True):
        assert set(RECORD_COLUMNS) <= set(record)
        assert record["snapshot_at"] <= reference["snapshot_at"]  # when it was asked
        assert {**record, "snapshot_at": None} == {**reference, "snapshot_at": None}


def test_names_go_a_hundred_to_a_request_priced_by_githubs_rules(
    github: GitHubFactory, repos: Fixture
) -> None:
    server = github()
    every = [r.full_name for r in repos.repos]
    [found] = ask(lookup_for(server), every)
    assert list(found) == every
    [request] = server.graphql_requests("Repositories")
    assert request.cost == queries.nodes_cost(len(every)) == 5

    server = github()
    [found] = ask(lookup_for(server, batch_size=12), every)
    assert list(found) == every
    costs = sorted(r.cost for r in server.graphql_requests("Repositories"))
    assert costs == sorted(queries.nodes_cost(n) for n in (12, 12, 6))


def test_unknown_names_are_left_out_and_remembered(github: GitHubFactory, repos: Fixture) -> None:
    server = github()
    known = repos.repos[0].full_name
    first, again = ask(lookup_for(server), ["nobody/nothing", known], ["nobody/nothing"])
    assert list(first) == [known]
    assert again == {}
    assert lookups(server) == 1


def test_names_are_answered_as_asked_whatever_their_case(
    github: GitHubFactory, repos: Fixture
) -> None:
    server = github()
    repo = repos.repos[3]
    shouted = repo.full_name.upper()
    [found] = ask(lookup_for(server), [shouted, repo.full_name])
    assert found[shouted] == found[repo.full_name]
    assert found[shouted]["full_name"] == repo.full_name  # GitHub's spelling in the record
    [request] = server.graphql_requests("Repositories")
    assert request.cost == queries.nodes_cost(1)  # one alias for both spellings


def test_an_invalid_name_is_refused_before_github_is_asked(
    github: GitHubFactory, repos: Fixture
) -> None:
    server = github()
    with pytest.raises(RepositoryNameError, match=r"'octo/\.\.' is not a GitHub") as bad:
        ask(lookup_for(server), [repos.repos[0].full_name, "octo/.."])
    assert bad.value.full_name == "octo/.."
    assert server.graphql_requests() == []


def test_answers_expire_and_the_cache_is_bounded(github: GitHubFactory, repos: Fixture) -> None:
    server = github()
    now = [0.0]
    lookup = lookup_for(server, cache_ttl_s=60, cache_size=2, now=lambda: now[0])
    a, b, c = (r.full_name for r in repos.repos[:3])

    async def body() -> None:
        await lookup.records([a])
        now[0] = 59.0
        await lookup.records([a])
        assert lookups(server) == 1  # still fresh
        now[0] = 60.0
        await lookup.records([a])
        assert lookups(server) == 2  # expired
        await lookup.records([b])
        await lookup.records([c])  # evicts a, the least recently used
        assert len(lookup.cache) == 2
        await lookup.records([b, c])
        assert lookups(server) == 4
        await lookup.records([a])
        assert lookups(server) == 5

    using(lookup, body)


def test_concurrent_requests_for_a_repository_share_one_fetch(
    github: GitHubFactory, repos: Fixture
) -> None:
    server = github()
    lookup = lookup_for(server)
    name = repos.repos[0].full_name

    async def body() -> list[Mapping[str, Any]]:
        return list(await asyncio.gather(*(lookup.records([name]) for _ in range(5))))

    answers = using(lookup, body)
    assert all(answer == answers[0] for answer in answers) and name in answers[0]
    assert lookups(server) == 1


@pytest.mark.parametrize("status", [200, 403])
def test_a_spent_budget_fails_at_once_saying_when_to_retry(
    github: GitHubFactory, repos: Fixture, status: int
) -> None:
    server = github(points=0, rate_limited_status=status)
    lookup = lookup_for(server)
    name = repos.repos[0].full_name

    async def body() -> list[str]:
        messages = []
        for _ in range(2):
            with pytest.raises(LookupFailedError) as failed:
                await lookup.records([name])
            messages.append(str(failed.value))
        return messages

    first, second = using(lookup, body)
    assert "GitHub's rate limit for this frontend's token is spent; retry after " in first
    assert "UTC (in " in first and "send the repository's `features`" in first
    assert second.startswith("GitHub's rate limit")
    assert lookups(server) == 1  # the second was refused without asking GitHub again


def test_a_secondary_limit_fails_at_once_with_githubs_wait(
    github: GitHubFactory, repos: Fixture
) -> None:
    server = github(faults=Faults(graphql_secondary=deque([30])))
    with pytest.raises(LookupFailedError, match=r"secondary rate limit .* \(in 30 s\)"):
        ask(lookup_for(server), [repos.repos[0].full_name])


def test_a_rejected_token_is_a_failure_that_says_what_to_set(
    github: GitHubFactory, repos: Fixture
) -> None:
    server = github()
    wrong = "ghp_wrongSECRETtoken0099"
    with pytest.raises(LookupFailedError, match="set a valid STARCAST_GITHUB_TOKEN") as failed:
        ask(lookup_for(server, secret=wrong), [repos.repos[0].full_name])
    assert wrong not in str(failed.value) and "401" in str(failed.value)


def test_github_failing_is_a_failure_and_the_next_request_tries_again(
    github: GitHubFactory, repos: Fixture
) -> None:
    server = github(faults=Faults(graphql_statuses=deque([502, 502])))
    lookup = lookup_for(server)
    name = repos.repos[0].full_name

    async def body() -> Mapping[str, Any]:
        with pytest.raises(LookupFailedError, match=r"HTTP 502 \(after 2 attempts\)"):
            await lookup.records([name])
        return await lookup.records([name])

    assert name in using(lookup, body)


def test_fields_github_fails_stay_unknown_and_are_asked_again(
    github: GitHubFactory, repos: Fixture
) -> None:
    poisoned: FakeRepo = next(r for r in repos.repos if not r.empty)
    faults = Faults(poison_ids={poisoned.node_id}, poison_mode="partial")
    server = github(faults=faults)
    first, again = ask(lookup_for(server), [poisoned.full_name], [poisoned.full_name])
    record = first[poisoned.full_name]
    assert record["commits_total"] is None and record["commits_last_year"] is None
    assert record["unknown_fields"] == "commits_last_year,commits_total"
    assert record["forks"] == poisoned.forks
    assert again[poisoned.full_name]["unknown_fields"] is not None
    assert lookups(server) == 2  # not kept: the next request asks again


class AnsweringClock:
    """Time moves only when someone sleeps; the first sleep delivers an answer in flight."""

    def __init__(self, answer: Callable[[], None]) -> None:
        self.now = 1_000.0
        self._answer: Callable[[], None] | None = answer

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        answer, self._answer = self._answer, None
        if answer is not None:
            answer()


def test_the_pool_refuses_a_reset_it_learns_of_while_waiting_for_answers_in_flight() -> None:
    in_flight: list[Lease] = []

    def spent() -> None:
        pool.settle(in_flight[0], remaining=0, reset_at=clock.now + 600)

    clock = AnsweringClock(spent)
    pool = FailFastTokenPool([SecretStr(SECRET)], clock)

    async def body() -> None:
        in_flight.append(await pool.acquire(Resource.GRAPHQL, 4990))
        # 10 points left and the rest in flight: the pool polls for that answer, which says
        # the budget is spent for 10 minutes. The extractor's pool would wait; this one says so.
        with pytest.raises(RateLimitedError, match=r"is spent; retry after .* \(in 600 s\)"):
            await pool.acquire(Resource.GRAPHQL, 17)

    asyncio.run(body())
