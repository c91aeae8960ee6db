"""The extractor's own cost estimates against GitHub's documented rules (applied to the AST)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from starcast.extraction import queries
from tests.support.github_graphql import compile_query, query_cost

SINCE = datetime(2025, 1, 1, tzinfo=UTC)


def server_cost(query: queries.BuiltQuery) -> int:
    return query_cost(compile_query(query.text), query.variables).points


def test_the_documented_example_costs_one_point() -> None:
    # GitHub's docs: 50 repositories + 50 issue connections = 51 requests -> 1 point.
    text = """query {
      search(query: "x", type: REPOSITORY, first: 50) {
        nodes { ... on Repository { issues(first: 10) { totalCount } } }
      }
    }"""
    cost = query_cost(compile_query(text), {})
    assert cost.requests == 51
    assert cost.points == 1


@pytest.mark.parametrize("first", [1, 2, 3, 10, 29, 30, 50, 99, 100])
def test_search_page_estimate_matches_the_server(first: int) -> None:
    query = queries.search_page("stars:10..20", first, None, SINCE)
    assert query.cost == server_cost(query) == queries.points(1 + 17 * first)


@pytest.mark.parametrize("count", [1, 7, 50, 100])
def test_nodes_estimate_matches_the_server(count: int) -> None:
    query = queries.nodes([f"R_{i}" for i in range(count)], SINCE)
    assert query.cost == server_cost(query)


@pytest.mark.parametrize("count", [1, 49, 100])
def test_probes_cost_one_point_per_hundred(count: int) -> None:
    query = queries.count_probe([f"stars:{i}" for i in range(count)])
    assert query.cost == server_cost(query) == 1


def test_every_connection_is_a_total_count_one_request_per_repository() -> None:
    assert queries.CONNECTIONS_PER_REPOSITORY == 17
    full_page = queries.search_page("stars:1", 100, None, SINCE)
    assert server_cost(full_page) == 17  # 1 + 1,700 requests


def test_minimum_points_and_page_sizing() -> None:
    assert queries.minimum_points(1000) == 170
    assert queries.minimum_points(1050) == 170 + queries.search_page_cost(50)
    assert queries.largest_page_within(17) == 100
    assert queries.largest_page_within(5) == 32  # 1 + 17 * 32 = 545 -> 5 points
    assert queries.search_page_cost(queries.largest_page_within(5)) <= 5
    assert queries.largest_page_within(1, limit=3) == 3


def test_nodes_refuses_more_than_one_hundred_ids() -> None:
    with pytest.raises(ValueError, match="1 to 100 ids"):
        queries.nodes([f"R_{i}" for i in range(101)], SINCE)
