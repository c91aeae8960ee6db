"""The GraphQL documents the extractor sends, and what each costs under GitHub's documented rules.

GitHub charges a query the number of connection requests it implies (one per parent node for each
nested connection, assuming every `first` is reached), divided by 100 and rounded, at least 1
point. A repository's features need only `totalCount`s, so each connection below is one request
per repository, and fetching the fields inside the search page itself makes discovery free: a
full page of 100 costs exactly what 100 repositories' connections cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

SEARCH_RESULT_CAP: Final = 1000  # GitHub's search returns at most this many results per query
MAX_PAGE: Final = 100  # `first` and `nodes(ids:)` take at most 100
MAX_PROBES_PER_QUERY: Final = 100  # 100 count probes are 100 requests: 1 point

# Names GitHub recognises as a README at the root, the most common first. `object` is not a
# connection, so asking for several costs nothing.
README_NAMES: Final[tuple[str, ...]] = (
    "README.md",
    "readme.md",
    "Readme.md",
    "README.rst",
    "README",
    "README.txt",
    "README.markdown",
    "README.adoc",
)

# Every connection the feature schema needs, each asked for its totalCount only.
_CONNECTIONS: Final = """
  watchers { totalCount }
  openIssues: issues(states: [OPEN]) { totalCount }
  closedIssues: issues(states: [CLOSED]) { totalCount }
  openPullRequests: pullRequests(states: [OPEN]) { totalCount }
  closedPullRequests: pullRequests(states: [CLOSED]) { totalCount }
  mergedPullRequests: pullRequests(states: [MERGED]) { totalCount }
  branches: refs(refPrefix: "refs/heads/") { totalCount }
  tags: refs(refPrefix: "refs/tags/") { totalCount }
  releases { totalCount }
  labels { totalCount }
  mentionableUsers { totalCount }
  repositoryTopics { totalCount }
  pages: deployments(environments: ["github-pages"]) { totalCount }
  owner {
    __typename
    login
    ... on User { followers { totalCount } }
    repositories(ownerAffiliations: [OWNER], privacy: PUBLIC) { totalCount }
  }
  defaultBranchRef {
    target {
      ... on Commit {
        history { totalCount }
        lastYear: history(since: $since) { totalCount }
      }
    }
  }
"""
_READMES: Final = "\n".join(
    f'  readme{i}: object(expression: "HEAD:{name}") {{ ... on Blob {{ byteSize }} }}'
    for i, name in enumerate(README_NAMES)
)
REPOSITORY_FRAGMENT: Final = f"""fragment RepositoryFields on Repository {{
  id
  nameWithOwner
  stargazerCount
  forkCount
  createdAt
  pushedAt
  diskUsage
  hasWikiEnabled
  isFork
  isArchived
  primaryLanguage {{ name }}
  licenseInfo {{ spdxId }}
{_CONNECTIONS}
{_READMES}
}}"""
# One request per repository for each connection: the fragment asks only for totalCounts.
CONNECTIONS_PER_REPOSITORY: Final = _CONNECTIONS.count("totalCount")
RATE_LIMIT_FIELDS: Final = "rateLimit { cost remaining resetAt limit }"


def points(requests: int) -> int:
    """GitHub's rule: requests / 100, rounded to the nearest whole number, at least 1."""
    return max(1, math.floor(requests / 100 + 0.5))


def search_page_cost(first: int) -> int:
    return points(1 + first * CONNECTIONS_PER_REPOSITORY)


def nodes_cost(count: int) -> int:
    return points(count * CONNECTIONS_PER_REPOSITORY)


def minimum_points(repositories: int) -> int:
    """The fewest points the documented formula allows for these fields: full pages of 100."""
    full, rest = divmod(repositories, MAX_PAGE)
    return full * search_page_cost(MAX_PAGE) + (search_page_cost(rest) if rest else 0)


def largest_page_within(budget: int, limit: int = MAX_PAGE) -> int:
    """The largest page (at most `limit`) whose search query costs at most `budget` points."""
    first = min(limit, MAX_PAGE)
    while first > 1 and search_page_cost(first) > budget:
        first -= 1
    return first


@dataclass(frozen=True)
class BuiltQuery:
    """A GraphQL request ready to send: a name for logs and errors, the text, its variables."""

    name: str
    text: str
    variables: Mapping[str, object]
    cost: int


def search_page(query: str, first: int, after: str | None, since: datetime) -> BuiltQuery:
    """One page of a search slice with every field the feature schema needs."""
    params = "$query: String!, $first: Int!, $after: String, $since: GitTimestamp!"
    text = f"""query SearchPage({params}) {{
  {RATE_LIMIT_FIELDS}
  search(query: $query, type: REPOSITORY, first: $first, after: $after) {{
    repositoryCount
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ ... on Repository {{ ...RepositoryFields }} }}
  }}
}}
{REPOSITORY_FRAGMENT}"""
    variables = {"query": query, "first": first, "after": after, "since": _timestamp(since)}
    return BuiltQuery(
        f"search page {query!r} after {after}", text, variables, search_page_cost(first)
    )


def page_ids(query: str, first: int, after: str | None) -> BuiltQuery:
    """The ids on a search page whose full query keeps failing, to fetch them by id instead."""
    text = f"""query PageIds($query: String!, $first: Int!, $after: String) {{
  {RATE_LIMIT_FIELDS}
  search(query: $query, type: REPOSITORY, first: $first, after: $after) {{
    repositoryCount
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ ... on Repository {{ id }} }}
  }}
}}"""
    variables = {"query": query, "first": first, "after": after}
    return BuiltQuery(f"page ids {query!r} after {after}", text, variables, points(1))


def nodes(ids: Sequence[str], since: datetime) -> BuiltQuery:
    """Up to 100 repositories by node id (retries, and batches split around a failing node)."""
    if not 1 <= len(ids) <= MAX_PAGE:
        raise ValueError(f"nodes(ids:) takes 1 to {MAX_PAGE} ids, not {len(ids)}")
    text = f"""query Nodes($ids: [ID!]!, $since: GitTimestamp!) {{
  {RATE_LIMIT_FIELDS}
  nodes(ids: $ids) {{ ... on Repository {{ ...RepositoryFields }} }}
}}
{REPOSITORY_FRAGMENT}"""
    variables = {"ids": list(ids), "since": _timestamp(since)}
    return BuiltQuery(
        f"nodes ({len(ids)} ids from {ids[0]})", text, variables, nodes_cost(len(ids))
    )


def repositories(names: Sequence[tuple[str, str]], since: datetime) -> BuiltQuery:
    """Up to 100 repositories by (owner, name), one alias each: `r0: repository(...)`, `r1: ...`.

    Names travel as variables, never spliced into the text. A top-level `repository` is not a
    connection, so each costs what one repository of `nodes(ids:)` costs. A name GitHub doesn't
    know comes back as a null alias with a NOT_FOUND entry in `errors`.
    """
    if not 1 <= len(names) <= MAX_PAGE:
        raise ValueError(f"a lookup takes 1 to {MAX_PAGE} repositories, not {len(names)}")
    params = ["$since: GitTimestamp!"]
    fields = []
    variables: dict[str, object] = {"since": _timestamp(since)}
    for i, (owner, name) in enumerate(names):
        params.append(f"$o{i}: String!, $n{i}: String!")
        field = f"repository(owner: $o{i}, name: $n{i})"
        fields.append(f"  {repository_alias(i)}: {field} {{ ...RepositoryFields }}")
        variables[f"o{i}"], variables[f"n{i}"] = owner, name
    text = f"""query Repositories({", ".join(params)}) {{
  {RATE_LIMIT_FIELDS}
{chr(10).join(fields)}
}}
{REPOSITORY_FRAGMENT}"""
    first = "/".join(names[0])
    return BuiltQuery(
        f"repositories ({len(names)} names from {first})", text, variables, nodes_cost(len(names))
    )


def repository_alias(index: int) -> str:
    """The alias of the `index`th repository of a `repositories` query."""
    return f"r{index}"


def count_probe(queries: Sequence[str], top: str | None = None) -> BuiltQuery:
    """repositoryCount of many search queries in one request (each is one connection request).

    `top`, when given, also asks for the star count of the first result of that query (sorted by
    stars, descending), which bounds the star range before it is sliced.
    """
    total = len(queries) + (1 if top is not None else 0)
    if not 1 <= total <= MAX_PROBES_PER_QUERY:
        raise ValueError(f"a probe takes 1 to {MAX_PROBES_PER_QUERY} queries, not {total}")
    params = [f"$q{i}: String!" for i in range(len(queries))]
    fields = [
        f"  p{i}: search(query: $q{i}, type: REPOSITORY, first: 1) {{ repositoryCount }}"
        for i in range(len(queries))
    ]
    variables: dict[str, object] = {f"q{i}": q for i, q in enumerate(queries)}
    if top is not None:
        params.append("$top: String!")
        fields.append(
            "  top: search(query: $top, type: REPOSITORY, first: 1) "
            "{ repositoryCount nodes { ... on Repository { stargazerCount } } }"
        )
        variables["top"] = top
    text = f"""query CountProbe({", ".join(params)}) {{
  {RATE_LIMIT_FIELDS}
{chr(10).join(fields)}
}}"""
    return BuiltQuery(f"count probe ({total} queries)", text, variables, points(total))


def _timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
