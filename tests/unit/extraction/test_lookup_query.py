"""The lookup's query (aliased `repository(owner:, name:)`), its price, names, and its answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from starcast.extraction import queries
from starcast.extraction.payloads import GraphQLErrorPayload, RepositoryPayload
from starcast.extraction.records import records_from_aliases, to_record
from tests.support.github_graphql import compile_query, query_cost
from tests.unit.extraction.test_records import payload

SINCE = datetime(2025, 1, 1, tzinfo=UTC)
SNAPSHOT = datetime(2026, 1, 1, tzinfo=UTC)


def names(count: int) -> list[tuple[str, str]]:
    return [(f"owner{i}", f"repo-{i}") for i in range(count)]


@pytest.mark.parametrize("count", [1, 6, 7, 50, 100])
def test_repositories_cost_what_the_server_charges_the_same_as_nodes(count: int) -> None:
    query = queries.repositories(names(count), SINCE)
    charged = query_cost(compile_query(query.text), query.variables)
    assert charged.requests == 17 * count  # `repository` itself is no connection
    assert query.cost == charged.points == queries.nodes_cost(count)


def test_names_travel_as_variables_one_alias_each() -> None:
    query = queries.repositories([("octo", "cat"), ("o'brien", 'x"y')], SINCE)
    assert 'x"y' not in query.text and "o'brien" not in query.text
    assert query.variables == {
        "since": "2025-01-01T00:00:00Z",
        "o0": "octo",
        "n0": "cat",
        "o1": "o'brien",
        "n1": 'x"y',
    }
    assert "r0: repository(owner: $o0, name: $n0) { ...RepositoryFields }" in query.text
    assert "r1: repository(owner: $o1, name: $n1)" in query.text
    assert queries.repository_alias(1) == "r1"
    assert queries.REPOSITORY_FRAGMENT in query.text  # the extractor's fields, exactly


@pytest.mark.parametrize("count", [0, 101])
def test_a_lookup_query_takes_one_to_a_hundred_names(count: int) -> None:
    with pytest.raises(ValueError, match="1 to 100 repositories"):
        queries.repositories(names(count), SINCE)


def error(path: list[str | int], type_: str | None, message: str = "boom") -> GraphQLErrorPayload:
    return GraphQLErrorPayload(message=message, type=type_, path=path)


def test_aliases_become_the_extractors_records_and_unknown_names_are_told_apart() -> None:
    data = {
        "rateLimit": {"cost": 1},
        "r0": payload(),
        "r1": None,
        "r2": None,
        "r3": payload(id="R_3", nameWithOwner="octo/dog", defaultBranchRef={"target": None}),
        "r4": payload(id="R_4", stargazerCount="many"),
    }
    errors = [
        error(["r1"], "NOT_FOUND", "Could not resolve to a Repository with the name 'x/y'."),
        error(["r2", "owner", "repositories"], "SERVICE_UNAVAILABLE", "timeout"),
        error(["r3", "defaultBranchRef", "target", "history"], "SERVICE_UNAVAILABLE"),
        error(["nodes", 0], "NOT_FOUND"),  # not one of ours
    ]
    parsed = records_from_aliases(data, errors, ["r0", "r1", "r2", "r3", "r4"], SNAPSHOT)
    assert parsed.records["r0"] == to_record(RepositoryPayload.model_validate(payload()), SNAPSHOT)
    assert parsed.records["r0"]["snapshot_at"] == SNAPSHOT
    assert parsed.not_found == {"r1"}
    assert parsed.failed["r2"] == "timeout"
    assert parsed.failed["r4"].startswith("malformed payload")
    incomplete = parsed.records["r3"]
    assert incomplete["commits_total"] is None and incomplete["commits_last_year"] is None
    assert incomplete["unknown_fields"] == "commits_last_year,commits_total"
    assert set(parsed.records) == {"r0", "r3"}


def test_a_null_alias_without_an_error_is_a_failure_not_an_unknown_name() -> None:
    parsed = records_from_aliases({"r0": None}, [], ["r0"], SNAPSHOT)
    assert parsed.not_found == frozenset()
    assert parsed.failed == {"r0": "null, and no error given"}
