"""GitHub's repository payload to a starcast record (`starcast.features.RepositoryRecord`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from pydantic import ValidationError

from starcast.extraction.payloads import GraphQLErrorPayload, RepositoryPayload
from starcast.features import NO_LICENSE, RepositoryRecord

logger = logging.getLogger(__name__)

# A nullable field of the query that GitHub failed to resolve -> the record columns it feeds.
# (A failing non-null field nulls the whole repository, which is then retried by id.)
COLUMNS_BY_FIELD: Final[dict[str, tuple[str, ...]]] = {
    "defaultBranchRef": ("commits_total", "commits_last_year"),
    "primaryLanguage": ("primary_language",),
    "licenseInfo": ("license",),
    "pushedAt": ("pushed_at",),
    "diskUsage": ("disk_usage_kb",),
    **{f"readme{i}": ("readme_size_bytes",) for i in range(32)},
}


class StoredRecord(RepositoryRecord):
    """A record as the extractor stores it: with the fields GitHub failed to resolve."""

    unknown_fields: str | None  # the record columns left unknown, comma-separated


def to_record(
    repo: RepositoryPayload, snapshot_at: datetime, failed_fields: Iterable[str] = ()
) -> StoredRecord:
    """The record, with the columns fed by `failed_fields` unknown (None) and listed."""
    branch = repo.default_branch_ref
    commits_total: int | None
    commits_last_year: int | None
    if branch is None:  # an empty repository has no default branch, and no commits
        commits_total, commits_last_year = 0, 0
    elif branch.target is None:
        commits_total = commits_last_year = None
    else:
        commits_total = branch.target.history.total_count
        commits_last_year = branch.target.last_year.total_count
    owner = repo.owner
    if owner.typename == "Organization":
        followers: int | None = 0  # organisations have no followers (feature schema)
    else:
        followers = owner.followers.total_count if owner.followers is not None else None
    unknown = sorted({c for f in failed_fields for c in COLUMNS_BY_FIELD.get(f, ())})
    record: StoredRecord = {
        "node_id": repo.id,
        "full_name": repo.name_with_owner,
        "stars": repo.stargazer_count,
        "snapshot_at": snapshot_at,
        "created_at": repo.created_at,
        "pushed_at": repo.pushed_at,
        "forks": repo.fork_count,
        "watchers": repo.watchers.total_count,
        "open_issues": repo.open_issues.total_count,
        "closed_issues": repo.closed_issues.total_count,
        "open_pull_requests": repo.open_pull_requests.total_count,
        "closed_pull_requests": repo.closed_pull_requests.total_count,
        "merged_pull_requests": repo.merged_pull_requests.total_count,
        "commits_total": commits_total,
        "commits_last_year": commits_last_year,
        "contributors": None,  # REST only, filled by the contributors phase when asked
        "branches": repo.branches.total_count,
        "tags": repo.tags.total_count,
        "releases": repo.releases.total_count,
        "labels": repo.labels.total_count,
        "mentionable_users": repo.mentionable_users.total_count,
        "disk_usage_kb": repo.disk_usage,
        # None when no README under a known name: unknown, not zero.
        "readme_size_bytes": next((r.byte_size for r in repo.readmes if r is not None), None),
        "owner_followers": followers,
        "owner_repositories": owner.repositories.total_count,
        "topics": repo.repository_topics.total_count,
        "owner_is_organization": owner.typename == "Organization",
        "has_pages": repo.pages.total_count > 0,
        "has_wiki": repo.has_wiki_enabled,
        "is_fork": repo.is_fork,
        "is_archived": repo.is_archived,
        "primary_language": repo.primary_language.name if repo.primary_language else None,
        "license": _license(repo),
        "unknown_fields": ",".join(unknown) or None,
    }
    for column in unknown:  # COLUMNS_BY_FIELD names nullable record columns only
        cast("dict[str, Any]", record)[column] = None
    return record


def _license(repo: RepositoryPayload) -> str:
    if repo.license_info is None:
        return NO_LICENSE
    return repo.license_info.spdx_id or "NOASSERTION"


def records_from_nodes(
    nodes: Sequence[dict[str, Any] | None],
    errors: Sequence[GraphQLErrorPayload],
    prefix: Sequence[str],
    snapshot: datetime,
) -> tuple[list[StoredRecord], list[str]]:
    """Records of the repositories in a response list, and the ids to fetch again.

    `prefix` is the path of the list in the response (`["search", "nodes"]`, `["nodes"]`);
    an error whose path runs through item i marks the fields of repository i it failed.
    A repository whose payload doesn't match GitHub's schema is retried, not stored.
    """
    depth = len(prefix)
    failed_fields: dict[int, set[str]] = {}
    for error in errors:
        path = error.path or []
        if list(path[:depth]) == list(prefix) and len(path) > depth:
            index = path[depth]
            if isinstance(index, int):
                fields = failed_fields.setdefault(index, set())
                if len(path) > depth + 1:
                    fields.add(str(path[depth + 1]))
    records: list[StoredRecord] = []
    retry: list[str] = []
    for index, node in enumerate(nodes):
        if not node:
            continue
        try:
            payload = RepositoryPayload.model_validate(node)
        except ValidationError as error:
            node_id = node.get("id")
            logger.warning(
                "repository %s: malformed payload (%d problems)", node_id, error.error_count()
            )
            if isinstance(node_id, str):
                retry.append(node_id)
            continue
        fields = failed_fields.get(index, set())
        records.append(to_record(payload, snapshot, fields))
        if fields:
            retry.append(payload.id)
    return records, retry


@dataclass(frozen=True)
class AliasedRecords:
    """What a query of aliased repositories (`r0: repository(...)`, ...) got back, by alias."""

    records: dict[str, StoredRecord]  # with the columns of failed fields unknown
    not_found: frozenset[str]  # GitHub has no such repository (or can't show it to this token)
    failed: dict[str, str]  # null for another reason, or a malformed payload: why


def records_from_aliases(
    data: Mapping[str, Any],
    errors: Sequence[GraphQLErrorPayload],
    aliases: Sequence[str],
    snapshot: datetime,
) -> AliasedRecords:
    """Records of the repositories at `aliases` of the response, as `records_from_nodes` makes.

    An error whose path starts at an alias marks the field of that repository it failed
    (path `[alias, field, ...]`) or, with the type NOT_FOUND and the path `[alias]`, says the
    repository doesn't exist.
    """
    failed_fields: dict[str, set[str]] = {}
    messages: dict[str, list[str]] = {}
    not_found: set[str] = set()
    ours = set(aliases)
    for error in errors:
        path = error.path or []
        if not path or path[0] not in ours:
            continue
        alias = str(path[0])
        if len(path) == 1 and error.type == "NOT_FOUND":
            not_found.add(alias)
            continue
        messages.setdefault(alias, []).append(error.message)
        if len(path) > 1:
            failed_fields.setdefault(alias, set()).add(str(path[1]))
    records: dict[str, StoredRecord] = {}
    failed: dict[str, str] = {}
    for alias in aliases:
        node = data.get(alias)
        if not node:
            if alias not in not_found:
                failed[alias] = "; ".join(messages.get(alias, [])) or "null, and no error given"
            continue
        try:
            payload = RepositoryPayload.model_validate(node)
        except ValidationError as error:
            failed[alias] = f"malformed payload ({error.error_count()} problems)"
            continue
        records[alias] = to_record(payload, snapshot, failed_fields.get(alias, ()))
    return AliasedRecords(records, frozenset(not_found), failed)
