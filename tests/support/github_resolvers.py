"""How the fake GitHub's GraphQL fields resolve on the fixture: the Repository, its owner, refs.

Connections resolve to their `totalCount` (the only thing the extractor asks of them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.github_fixture import FakeOwner, FakeRepo, Fixture
from tests.support.github_graphql import Failure


@dataclass(frozen=True)
class GitRef:
    repo: FakeRepo


@dataclass(frozen=True)
class GitCommit:
    repo: FakeRepo


@dataclass(frozen=True)
class GitBlob:
    size: int


def resolvers(
    fx: Fixture,
    search: Callable[[dict[str, Any]], dict[str, Any]],
    history: Callable[[GitCommit, dict[str, Any]], int],
) -> dict[tuple[str, str], Any]:
    """How each GraphQL field resolves on the fixture's objects."""

    def issues(repo: FakeRepo, args: dict[str, Any]) -> int:
        states = args.get("states") or ["OPEN", "CLOSED"]
        return (repo.open_issues if "OPEN" in states else 0) + (
            repo.closed_issues if "CLOSED" in states else 0
        )

    def pulls(repo: FakeRepo, args: dict[str, Any]) -> int:
        states = args.get("states") or ["OPEN", "CLOSED", "MERGED"]
        return sum(
            count
            for state, count in (
                ("OPEN", repo.open_pull_requests),
                ("CLOSED", repo.closed_pull_requests),
                ("MERGED", repo.merged_pull_requests),
            )
            if state in states
        )

    def refs(repo: FakeRepo, args: dict[str, Any]) -> int:
        return repo.branches if args["refPrefix"] == "refs/heads/" else repo.tags

    def deployments(repo: FakeRepo, args: dict[str, Any]) -> int:
        environments = args.get("environments")
        pages = 3 if repo.has_pages else 0
        return pages if environments is None or "github-pages" in environments else 0

    def readme(repo: FakeRepo, args: dict[str, Any]) -> GitBlob | None:
        expression = args.get("expression") or ""
        name = expression.removeprefix("HEAD:")
        if repo.readme_name is not None and name == repo.readme_name:
            return GitBlob(repo.readme_size)
        return None

    def nodes(_: object, args: dict[str, Any]) -> list[FakeRepo | Failure]:
        return [
            fx.by_id.get(i)
            or Failure("NOT_FOUND", f"Could not resolve to a node with the global id of '{i}'")
            for i in args["ids"]
        ]

    def repository(_: object, args: dict[str, Any]) -> FakeRepo | Failure:
        full_name = f"{args['owner']}/{args['name']}"
        return fx.by_name.get(full_name.lower()) or Failure(
            "NOT_FOUND", f"Could not resolve to a Repository with the name '{full_name}'."
        )

    resolvers: dict[tuple[str, str], Any] = {
        ("Query", "search"): lambda _, args: search(args),
        ("Query", "nodes"): nodes,
        ("Query", "node"): lambda _, args: fx.by_id.get(args["id"]),
        ("Query", "repository"): repository,
        ("Repository", "id"): lambda r, _: r.node_id,
        ("Repository", "nameWithOwner"): lambda r, _: r.full_name,
        ("Repository", "stargazerCount"): lambda r, _: r.stars,
        ("Repository", "forkCount"): lambda r, _: r.forks,
        ("Repository", "createdAt"): lambda r, _: r.created_at,
        ("Repository", "pushedAt"): lambda r, _: r.pushed_at,
        ("Repository", "diskUsage"): lambda r, _: r.disk_usage,
        ("Repository", "hasWikiEnabled"): lambda r, _: r.has_wiki,
        ("Repository", "hasIssuesEnabled"): lambda r, _: True,
        ("Repository", "isFork"): lambda r, _: r.is_fork,
        ("Repository", "isArchived"): lambda r, _: r.is_archived,
        ("Repository", "isPrivate"): lambda r, _: False,
        ("Repository", "isEmpty"): lambda r, _: r.empty,
        ("Repository", "homepageUrl"): lambda r, _: None,
        ("Repository", "primaryLanguage"): lambda r, _: (
            {"name": r.language, "color": None} if r.language else None
        ),
        ("Repository", "licenseInfo"): lambda r, _: (
            {"spdxId": r.license, "name": r.license, "key": r.license.lower()}
            if r.license
            else None
        ),
        ("Repository", "watchers"): lambda r, _: r.watchers,
        ("Repository", "stargazers"): lambda r, _: r.stars,
        ("Repository", "issues"): issues,
        ("Repository", "pullRequests"): pulls,
        ("Repository", "refs"): refs,
        ("Repository", "releases"): lambda r, _: r.releases,
        ("Repository", "labels"): lambda r, _: r.labels,
        ("Repository", "mentionableUsers"): lambda r, _: r.mentionable_users,
        ("Repository", "repositoryTopics"): lambda r, _: r.topics,
        ("Repository", "deployments"): deployments,
        ("Repository", "defaultBranchRef"): lambda r, _: None if r.empty else GitRef(r),
        ("Repository", "object"): readme,
        ("Ref", "id"): lambda ref, _: f"REF_{ref.repo.node_id}",
        ("Ref", "name"): lambda ref, _: "main",
        ("Ref", "prefix"): lambda ref, _: "refs/heads/",
        ("Ref", "target"): lambda ref, _: GitCommit(ref.repo),
        ("Commit", "id"): lambda c, _: f"C_{c.repo.node_id}",
        ("Commit", "oid"): lambda c, _: "0" * 40,
        ("Commit", "history"): history,
        ("Blob", "byteSize"): lambda b, _: b.size,
        ("Blob", "isBinary"): lambda b, _: False,
        ("Blob", "oid"): lambda b, _: "0" * 40,
        ("Blob", "id"): lambda b, _: "B_0",
    }
    for owner_type in ("User", "Organization"):
        resolvers[(owner_type, "id")] = lambda o, _: f"U_{o.login}"
        resolvers[(owner_type, "repositories")] = lambda o, _: o.repositories
    resolvers[("User", "followers")] = lambda o, _: o.followers
    for connection in (
        "RepositoryConnection",
        "FollowerConnection",
        "UserConnection",
        "IssueConnection",
        "PullRequestConnection",
        "RefConnection",
        "ReleaseConnection",
        "LabelConnection",
        "RepositoryTopicConnection",
        "DeploymentConnection",
        "CommitHistoryConnection",
    ):
        resolvers[(connection, "totalCount")] = lambda count, _: count
    return resolvers


def typename_of(value: Any) -> str:
    """The concrete GraphQL type of a value returned for an interface or a union."""
    if isinstance(value, FakeRepo):
        return "Repository"
    if isinstance(value, FakeOwner):
        return "Organization" if value.is_organization else "User"
    if isinstance(value, GitCommit):
        return "Commit"
    if isinstance(value, GitBlob):
        return "Blob"
    raise TypeError(f"no GraphQL type for {type(value).__name__}")
