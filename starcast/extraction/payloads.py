"""GitHub's response JSON, as pydantic models: what the queries in `queries` get back.

Anything that does not match is a malformed response, reported with the query that got it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Count(_Payload):
    total_count: int = Field(alias="totalCount", ge=0)


class RateLimitPayload(_Payload):
    cost: int = Field(ge=0)
    remaining: int = Field(ge=0)
    reset_at: datetime = Field(alias="resetAt")
    limit: int = Field(ge=0)


class GraphQLErrorPayload(_Payload):
    """An entry of `errors`; `type` is GitHub's (NOT_FOUND, RATE_LIMITED, ...) when it sends one."""

    message: str
    type: str | None = None
    path: list[str | int] | None = None


class Envelope(_Payload):
    data: dict[str, Any] | None = None
    errors: list[GraphQLErrorPayload] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_something(self) -> Envelope:
        if self.data is None and not self.errors:
            raise ValueError("neither `data` nor `errors` in the response")
        return self


class PageInfo(_Payload):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: str | None = Field(alias="endCursor")


class Named(_Payload):
    name: str


class LicensePayload(_Payload):
    spdx_id: str | None = Field(alias="spdxId")


class OwnerPayload(_Payload):
    typename: Literal["User", "Organization"] = Field(alias="__typename")
    login: str
    followers: Count | None = None  # users only
    repositories: Count


class CommitPayload(_Payload):
    history: Count
    last_year: Count = Field(alias="lastYear")


class BranchRefPayload(_Payload):
    # None when the branch points at something other than a commit, or when resolving it failed
    # (the response's `errors` say which).
    target: CommitPayload | None

    @model_validator(mode="before")
    @classmethod
    def _only_commits(cls, value: Any) -> Any:
        target = value.get("target") if isinstance(value, dict) else None
        if isinstance(target, dict) and "history" not in target:
            return {**value, "target": None}
        return value


class BlobPayload(_Payload):
    byte_size: int = Field(alias="byteSize", ge=0)


class RepositoryPayload(_Payload):
    id: str
    name_with_owner: str = Field(alias="nameWithOwner")
    stargazer_count: int = Field(alias="stargazerCount", ge=0)
    fork_count: int = Field(alias="forkCount", ge=0)
    created_at: datetime = Field(alias="createdAt")
    pushed_at: datetime | None = Field(alias="pushedAt")
    disk_usage: int | None = Field(alias="diskUsage")
    has_wiki_enabled: bool = Field(alias="hasWikiEnabled")
    is_fork: bool = Field(alias="isFork")
    is_archived: bool = Field(alias="isArchived")
    primary_language: Named | None = Field(alias="primaryLanguage")
    license_info: LicensePayload | None = Field(alias="licenseInfo")
    watchers: Count
    open_issues: Count = Field(alias="openIssues")
    closed_issues: Count = Field(alias="closedIssues")
    open_pull_requests: Count = Field(alias="openPullRequests")
    closed_pull_requests: Count = Field(alias="closedPullRequests")
    merged_pull_requests: Count = Field(alias="mergedPullRequests")
    branches: Count
    tags: Count
    releases: Count
    labels: Count
    mentionable_users: Count = Field(alias="mentionableUsers")
    repository_topics: Count = Field(alias="repositoryTopics")
    pages: Count
    owner: OwnerPayload
    default_branch_ref: BranchRefPayload | None = Field(alias="defaultBranchRef")
    readmes: list[BlobPayload | None] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _collect_readmes(cls, value: Any) -> Any:
        """`readme0`, `readme1`, ... (one alias per README name) into one ordered list."""
        if not isinstance(value, dict):
            return value
        keys = sorted((k for k in value if k.startswith("readme") and k[6:].isdigit()), key=_n)
        readmes = [value[k] if isinstance(value[k], dict) and value[k] else None for k in keys]
        return {**value, "readmes": readmes}


def _n(key: str) -> int:
    return int(key[6:])


class SearchPagePayload(_Payload):
    repository_count: int = Field(alias="repositoryCount", ge=0)
    page_info: PageInfo = Field(alias="pageInfo")
    # Raw items: one bad repository is reported on its own, not as a malformed page.
    nodes: list[dict[str, Any] | None]


class CountPayload(_Payload):
    repository_count: int = Field(alias="repositoryCount", ge=0)


class StarsPayload(_Payload):
    stargazer_count: int = Field(alias="stargazerCount", ge=0)


class TopPayload(_Payload):
    repository_count: int = Field(alias="repositoryCount", ge=0)
    nodes: list[StarsPayload | None]
