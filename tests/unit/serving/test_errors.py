"""Validation errors name the field the way a person reads it."""

from __future__ import annotations

import pytest

from starcast.serving.errors import field_path, problems_of


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "repositories", 0, "features", "forks"), "repositories[0].features.forks"),
        (("body", "repositories"), "repositories"),
        (("body",), "body"),
        (("query", "limit"), "query.limit"),
    ],
)
def test_field_path(loc: tuple[int | str, ...], path: str) -> None:
    assert field_path(loc) == path


def test_invalid_json_is_reported_on_the_body() -> None:
    [problem] = problems_of([{"type": "json_invalid", "loc": ("body", 17), "msg": "bad"}])
    assert problem.field == "body"
    assert "not valid JSON" in problem.problem
