"""Bad input gets a 4xx naming the field and the problem; the size bounds hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.serving.conftest import SHARED_FRONTEND
from tests.integration.serving.stack import ServingStack

pytestmark = pytest.mark.integration


def post(stack: ServingStack, **request: Any) -> httpx.Response:
    return httpx.post(f"{stack.base_url}/api/v1/predict", timeout=30, **request)


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (
            {"repositories": [{"features": {"open_issues": -3}}]},
            "repositories[0].features.open_issues",
            "greater than or equal to 0",
        ),
        (
            {"repositories": [{"features": {"stars_on_mars": 1}}]},
            "repositories[0].features.stars_on_mars",
            "Extra inputs are not permitted",
        ),
        (
            {"repositories": [{"features": {"open_issues": 1}}, {"features": {"forks": "many"}}]},
            "repositories[1].features.forks",
            "valid integer",
        ),
        (
            {"repositories": [{"features": {"contributors": "12"}}]},
            "repositories[0].features.contributors",
            "valid integer",
        ),
        (
            {"repositories": [{"features": {"open_issues": True}}]},
            "repositories[0].features.open_issues",
            "valid integer",
        ),
        (
            {"repositories": [{"features": {"topics": 2.5}}]},
            "repositories[0].features.topics",
            "valid integer",
        ),
        (
            {"repositories": [{"features": {"is_fork": "yes"}}]},
            "repositories[0].features.is_fork",
            "valid boolean",
        ),
        (
            {"repositories": [{"features": {"has_wiki": 0}}]},
            "repositories[0].features.has_wiki",
            "valid boolean",
        ),
        (
            {"repositories": [{"features": {"license": 3}}]},
            "repositories[0].features.license",
            "valid string",
        ),
        (
            {"repositories": [{"features": {"has_pages": "perhaps"}}]},
            "repositories[0].features.has_pages",
            "valid boolean",
        ),
        ({"repositories": []}, "repositories", "at least 1 item"),
        ({"repositories": [{}]}, "repositories[0]", "give `features`, or `full_name`"),
        (
            {"repositories": [{"full_name": "not a name", "features": {}}]},
            "repositories[0].full_name",
            "should match pattern",
        ),
        ({"repos": [{"features": {}}]}, "repos", "Extra inputs are not permitted"),
        (
            {"repositories": [{"features": {}}] * 11},
            "repositories",
            "at most 10 repositories per request, got 11",
        ),
    ],
    ids=[
        "negative-count",
        "unknown-feature",
        "wrong-type",
        "count-as-string",
        "count-as-boolean",
        "fractional-count",
        "flag-as-string",
        "flag-as-integer",
        "category-as-number",
        "not-a-boolean",
        "empty-batch",
        "nothing-to-predict",
        "bad-full-name",
        "misspelt-key",
        "too-many-repositories",
    ],
)
def test_invalid_request_is_refused_naming_the_field(
    shared_stack: ServingStack, body: dict[str, Any], field: str, problem: str
) -> None:
    answer = post(shared_stack, json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert any(p["field"] == field and problem in p["problem"] for p in error["problems"]), error
    assert field in error["detail"]
    assert "Value error" not in answer.text


def test_invalid_json_is_refused(shared_stack: ServingStack) -> None:
    answer = post(
        shared_stack, content=b'{"repositories": [', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["field"] == "body"
    assert "not valid JSON" in answer.json()["detail"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_that_is_not_json_gets_a_hint_to_send_json(
    shared_stack: ServingStack, content_type: str
) -> None:
    answer = post(shared_stack, content=b"repositories=1", headers={"content-type": content_type})
    assert answer.status_code == 415, answer.text
    assert "content-type: application/json" in answer.json()["detail"]
    assert content_type in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"repositories": [{"full_name": "caf\xe9/x"}]}', "not UTF-8"),
        (b"[" * 20_000 + b"]" * 20_000, "nested too deeply"),
    ],
    ids=["latin-1", "deep"],
)
def test_an_unreadable_body_is_a_400_in_the_error_contract(
    shared_stack: ServingStack, body: bytes, said: str
) -> None:
    answer = post(shared_stack, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert said in error["detail"]
    assert error["problems"] == []


def test_body_over_the_limit_is_refused_by_its_length(shared_stack: ServingStack) -> None:
    limit = SHARED_FRONTEND["max_body_bytes"]
    body = b'{"repositories": [{"features": {}}], "padding": "' + b"x" * limit + b'"}'
    answer = post(shared_stack, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert f"larger than {limit} bytes" in answer.json()["detail"]


def test_chunked_body_over_the_limit_is_refused_while_streaming(
    shared_stack: ServingStack,
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"repositories": [{"features": {}}], "padding": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    answer = post(shared_stack, content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert "larger than" in answer.json()["detail"]


def test_prediction_by_name_without_a_github_token_says_how_to_enable_it(
    shared_stack: ServingStack,
) -> None:
    answer = post(shared_stack, json={"repositories": [{"full_name": "pallets/flask"}]})
    assert answer.status_code == 422  # a client's request to change, not a server error
    detail = answer.json()["detail"]
    assert "STARCAST_GITHUB_TOKEN" in detail and "features" in detail


def test_the_frontend_still_answers_after_bad_requests(shared_stack: ServingStack) -> None:
    answer = post(shared_stack, json={"repositories": [{"features": {"open_issues": 4}}]})
    assert answer.status_code == 200
