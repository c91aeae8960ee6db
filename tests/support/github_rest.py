"""The fake GitHub's REST side: repositories, their list endpoints with `Link` headers, users.

List endpoints page with `per_page` and `page` like GitHub's, and `Link` carries `next` and
`last`, so `per_page=1` gives a count in the `last` page number. Contributors of a repository in
`too_large` answer 403 "too large to list contributors", as GitHub does for huge histories.
"""

from __future__ import annotations

import math
from typing import Any, Final

from tests.support.github_fixture import FakeRepo, Fixture

TOO_LARGE_MESSAGE: Final = (
    "The history or contributor list is too large to list contributors for this repository "
    "via the API."
)
DOCS: Final = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"


def rest_answer(
    fx: Fixture, too_large: set[str], path: str, query: dict[str, list[str]]
) -> tuple[int, Any, dict[str, str]]:
    """Status, body and extra headers of a REST GET (rate limits are the server's part)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) == 2 and parts[0] == "users":
        owner = fx.owners.get(parts[1].lower())
        if owner is None:
            return 404, {"message": "Not Found"}, {}
        kind = "Organization" if owner.is_organization else "User"
        body = {"login": owner.login, "type": kind, "followers": owner.followers}
        return 200, {**body, "public_repos": owner.repositories}, {}
    if len(parts) < 3 or parts[0] != "repos":
        return 404, {"message": "Not Found"}, {}
    repo = fx.by_name.get(f"{parts[1]}/{parts[2]}".lower())
    if repo is None:
        return 404, {"message": "Not Found", "documentation_url": DOCS}, {}
    if len(parts) == 3:
        return 200, _rest_repository(repo), {}
    resource = parts[3]
    if resource == "readme":
        if repo.readme_name is None:
            return 404, {"message": "Not Found"}, {}
        return 200, {"name": repo.readme_name, "size": repo.readme_size}, {}
    if resource == "contributors":
        if repo.full_name in too_large:
            return 403, {"message": TOO_LARGE_MESSAGE, "documentation_url": DOCS}, {}
        if repo.empty:
            return 204, b"", {}
    state = (query.get("state") or ["open"])[0]
    counts = {
        "contributors": repo.contributors,
        "commits": repo.commits_total,
        "branches": repo.branches,
        "tags": repo.tags,
        "releases": repo.releases,
        "labels": repo.labels,
        "assignees": repo.mentionable_users,
        "issues": repo.open_issues if state == "open" else repo.closed_issues,
        "pulls": repo.open_pull_requests
        if state == "open"
        else repo.closed_pull_requests + repo.merged_pull_requests,
    }
    if resource not in counts:
        return 404, {"message": "Not Found"}, {}
    return _listing(path, query, counts[resource])


def _listing(path: str, query: dict[str, list[str]], total: int) -> tuple[int, Any, dict[str, str]]:
    per_page = min(100, int((query.get("per_page") or ["30"])[0]))
    page = int((query.get("page") or ["1"])[0])
    last = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    items = [{"index": i} for i in range(start, min(start + per_page, total))]
    links = []
    base = f"https://api.github.com{path}?per_page={per_page}"
    if page < last:
        links.append(f'<{base}&page={page + 1}>; rel="next"')
        links.append(f'<{base}&page={last}>; rel="last"')
    if page > 1:
        links.append(f'<{base}&page=1>; rel="first"')
        links.append(f'<{base}&page={page - 1}>; rel="prev"')
    return 200, items, ({"Link": ", ".join(links)} if links else {})


def _rest_repository(repo: FakeRepo) -> dict[str, Any]:
    return {
        "node_id": repo.node_id,
        "full_name": repo.full_name,
        "stargazers_count": repo.stars,
        "forks_count": repo.forks,
        "subscribers_count": repo.watchers,
        "open_issues_count": repo.open_issues + repo.open_pull_requests,
        "size": repo.disk_usage,
        "created_at": repo.created_at.isoformat(),
        "pushed_at": repo.pushed_at.isoformat() if repo.pushed_at else None,
        "language": repo.language,
        "license": {"spdx_id": repo.license} if repo.license else None,
        "topics": [f"topic{i}" for i in range(repo.topics)],
        "has_pages": repo.has_pages,
        "has_wiki": repo.has_wiki,
        "fork": repo.is_fork,
        "archived": repo.is_archived,
        "owner": {
            "login": repo.owner.login,
            "type": "Organization" if repo.owner.is_organization else "User",
        },
    }
