"""Prediction by owner/name: the real frontend (`starcast serve frontend` with a GitHub token) asks
a fake GitHub over HTTP, GitHub's wire format, and the shared stack's worker predicts over
RabbitMQ."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from starcast.features import RepositoryRecord
from starcast.serving.lookup import rows_from_records
from starcast.serving.schemas import RepositoryFeatures
from tests.integration.serving.conftest import SHARED_FRONTEND
from tests.integration.serving.stack import ServingStack
from tests.support.github_fixture import FakeRepo, Fixture, generate
from tests.support.github_records import extracted_records
from tests.support.github_server import FakeGitHub, Limits
from tests.support.models import ModelArtifact

pytestmark = pytest.mark.integration

SECRET = "ghp_frontendSECRETtoken0001"


def start_github(points: int) -> FakeGitHub:
    repos = Fixture(generate(20, seed=21))
    return FakeGitHub(repos, {SECRET: "frontend"}, Limits({"frontend": points})).start()


def start_frontend(shared_stack: ServingStack, github: FakeGitHub, base_dir: Path) -> ServingStack:
    """A frontend of its own on the shared stack's queue (its worker predicts), asking `github`."""
    stack = ServingStack(base_dir, shared_stack.broker_url, queue=shared_stack.queue)
    stack.start_frontend(
        **SHARED_FRONTEND, github_token=SECRET, github_graphql_url=f"{github.url}/graphql"
    )
    stack.wait_until_ready()
    return stack


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    server = start_github(points=5000)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def frontend(
    shared_stack: ServingStack, github: FakeGitHub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServingStack]:
    stack = start_frontend(shared_stack, github, tmp_path_factory.mktemp("by-name"))
    yield stack
    stack.stop()
    for process in stack.frontends:
        assert SECRET not in process.log_path.read_text()


def predict(stack: ServingStack, *repositories: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{stack.base_url}/api/v1/predict", json={"repositories": list(repositories)}, timeout=30
    )


def features_of(record: RepositoryRecord) -> dict[str, Any]:
    [row] = rows_from_records([record])
    return RepositoryFeatures.from_row(row).model_dump(exclude_none=True)


def test_a_repository_by_name_is_predicted_as_its_record_by_features(
    frontend: ServingStack, github: FakeGitHub, model_artifact: ModelArtifact
) -> None:
    chosen: list[FakeRepo] = github.fixture.repos[:2]
    records = extracted_records(github.url, SECRET, [r.node_id for r in chosen])
    asked: list[dict[str, Any]] = []
    for repo, record in zip(chosen, records, strict=True):
        asked += [{"full_name": repo.full_name}, {"features": features_of(record)}]
    answer = predict(frontend, *asked)
    assert answer.status_code == 200, answer.text
    by_name, by_features, other_by_name, other_by_features = answer.json()["predictions"]
    assert by_name["full_name"] == chosen[0].full_name
    assert {p["model_version"] for p in (by_name, other_by_name)} == {model_artifact.version}
    # The same record, fetched moments apart: only its age moves, by seconds in years.
    assert by_name["predicted_stars"] == pytest.approx(by_features["predicted_stars"], rel=1e-6)
    assert other_by_name["predicted_stars"] == pytest.approx(
        other_by_features["predicted_stars"], rel=1e-6
    )
    assert by_name["predicted_stars"] != pytest.approx(other_by_name["predicted_stars"], rel=1e-3)
    [lookup] = github.graphql_requests("Repositories")
    assert sorted(lookup.variables[k] for k in ("n0", "n1")) == sorted(r.name for r in chosen)

    again = predict(frontend, {"full_name": chosen[0].full_name})
    assert again.status_code == 200, again.text
    assert again.json()["predictions"][0]["predicted_stars"] == by_name["predicted_stars"]
    assert len(github.graphql_requests("Repositories")) == 1  # answered from the recent lookups


def test_a_name_github_does_not_know_is_refused_naming_it(frontend: ServingStack) -> None:
    answer = predict(frontend, {"features": {}}, {"full_name": "nobody/nothing"})
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["problems"]
    assert problem["field"] == "repositories[1].full_name"
    assert "GitHub has no repository 'nobody/nothing'" in problem["problem"]


def test_a_name_github_could_never_have_is_refused_before_asking_it(
    frontend: ServingStack, github: FakeGitHub
) -> None:
    before = len(github.graphql_requests())
    answer = predict(frontend, {"full_name": "octo/.."})
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["problems"]
    assert problem["field"] == "repositories[0].full_name"
    assert "'octo/..' is not a GitHub repository name" in problem["problem"]
    assert len(github.graphql_requests()) == before


def test_github_rate_limited_is_a_503_that_says_when_to_retry(
    shared_stack: ServingStack, tmp_path: Path
) -> None:
    github = start_github(points=0)  # every query is over the token's budget
    try:
        stack = start_frontend(shared_stack, github, tmp_path)
        try:
            name = github.fixture.repos[0].full_name
            answers = [predict(stack, {"full_name": name}) for _ in range(2)]
        finally:
            stack.stop()
    finally:
        github.stop()
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert 1 <= int(answer.headers["Retry-After"]) <= 3601  # the fake resets hourly
        detail = answer.json()["detail"]
        assert detail.startswith(
            "GitHub could not be asked: GitHub's rate limit for this frontend's token is spent; "
            "retry after "
        )
        assert "send the repository's `features`" in detail
    assert len(github.graphql_requests()) == 1  # then refused until the reset, not asked again
