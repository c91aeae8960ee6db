"""GitHub's name rules, stated once in the core and used by the extractor and the frontend."""

from __future__ import annotations

import pytest

from starcast.github import RepositoryNameError, split_full_name


@pytest.mark.parametrize(
    ("full_name", "parts"),
    [
        ("pallets/flask", ("pallets", "flask")),
        ("a/b", ("a", "b")),
        ("Octo-Cat/my_repo.js", ("Octo-Cat", "my_repo.js")),
        ("o" * 39 + "/" + "n" * 100, ("o" * 39, "n" * 100)),
        ("octo/.github", ("octo", ".github")),
    ],
)
def test_valid_names_split_into_owner_and_name(full_name: str, parts: tuple[str, str]) -> None:
    assert split_full_name(full_name) == parts


@pytest.mark.parametrize(
    ("full_name", "problem"),
    [
        ("flask", "exactly one '/'"),
        ("pallets/flask/tree", "exactly one '/'"),
        ("/flask", "the owner ''"),
        ("-pallets/flask", "the owner '-pallets'"),
        ("o" * 40 + "/flask", "1 to 39"),
        ("pal lets/flask", "the owner 'pal lets'"),
        ("pallets/", "the name ''"),
        ("pallets/..", "not '.' or '..'"),
        ("pallets/.", "not '.' or '..'"),
        ("pallets/fl ask", "the name 'fl ask'"),
        ("pallets/" + "n" * 101, "1 to 100"),
    ],
)
def test_invalid_names_are_refused_saying_what_is_wrong(full_name: str, problem: str) -> None:
    with pytest.raises(RepositoryNameError) as refused:
        split_full_name(full_name)
    assert refused.value.full_name == full_name
    assert str(refused.value).startswith(f"{full_name!r} is not a GitHub repository name: ")
    assert problem in str(refused.value)
