"""What every component knows about GitHub: its URLs, its name rules, and the by-name lookup's seam.

The lookup is an interface here and an implementation in one component
(`starcast.extraction.lookup.GitHubRepositoryLookup`, built on the extractor's client); the
frontend depends only on this interface and its errors, so the two components never import each
other. `starcast serve frontend` plugs the implementation in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from starcast.features import RepositoryRecord

GITHUB_API_URL: Final = "https://api.github.com"
GITHUB_GRAPHQL_URL: Final = f"{GITHUB_API_URL}/graphql"

# GitHub's rules: a login is 1-39 letters, digits or hyphens and doesn't start with a hyphen
# (older accounts may have doubled or trailing hyphens); a repository name is 1-100 letters,
# digits, '.', '-' or '_', and neither '.' nor '..'.
OWNER_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9-]{0,38}"
NAME_PATTERN: Final = r"[A-Za-z0-9._-]{1,100}"
_OWNER: Final = re.compile(OWNER_PATTERN)
_NAME: Final = re.compile(NAME_PATTERN)


class RepositoryNameError(ValueError):
    """Not a GitHub owner/name; the message names it and says what is wrong."""

    def __init__(self, full_name: str, problem: str) -> None:
        super().__init__(f"{full_name!r} is not a GitHub repository name: {problem}")
        self.full_name = full_name
        self.problem = problem


def split_full_name(full_name: str) -> tuple[str, str]:
    """`owner/name` -> (owner, name), or RepositoryNameError saying which part is wrong."""
    owner, slash, name = full_name.partition("/")
    if not slash or "/" in name:
        raise RepositoryNameError(full_name, "expected owner/name, with exactly one '/'")
    if not _OWNER.fullmatch(owner):
        raise RepositoryNameError(
            full_name,
            f"the owner {owner!r} must be 1 to 39 letters, digits or hyphens, "
            "not starting with a hyphen",
        )
    if not _NAME.fullmatch(name) or name in {".", ".."}:
        raise RepositoryNameError(
            full_name,
            f"the name {name!r} must be 1 to 100 letters, digits, '.', '-' or '_', "
            "and not '.' or '..'",
        )
    return owner, name


class LookupUnavailableError(Exception):
    """Prediction by owner/name is not possible on this server; the message says why."""


class LookupFailedError(Exception):
    """GitHub could not be asked (rate limit, network); the message says why.

    `retry_after_s` is set when GitHub said when it would answer again (a rate limit).
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RepositoryLookup(Protocol):
    async def records(self, full_names: Sequence[str]) -> Mapping[str, RepositoryRecord]:
        """Record of each named repository GitHub knows, keyed by the name as given; unknown
        names are left out.

        Raises RepositoryNameError for a name that can't be owner/name (before asking GitHub
        anything), LookupFailedError when GitHub can't be asked.
        """
        ...

    async def aclose(self) -> None:
        """Release connections; the frontend's lifespan calls it on shutdown."""
        ...
