"""GitHub's payload to a record: organisations, empty repositories, unknown fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starcast.extraction.payloads import RepositoryPayload
from starcast.extraction.records import StoredRecord, to_record
from starcast.features import RECORD_COLUMNS

SNAPSHOT = datetime(2025, 6, 1, tzinfo=UTC)
COUNTED = (
    "watchers",
    "openIssues",
    "closedIssues",
    "openPullRequests",
    "closedPullRequests",
    "mergedPullRequests",
    "branches",
    "tags",
    "releases",
    "labels",
    "mentionableUsers",
    "repositoryTopics",
)


def payload(**changes: Any) -> dict[str, Any]:
    count = {"totalCount": 3}
    base: dict[str, Any] = {
        "id": "R_1",
        "nameWithOwner": "octo/cat",
        "stargazerCount": 42,
        "forkCount": 4,
        "createdAt": "2020-01-01T00:00:00Z",
        "pushedAt": "2025-01-01T00:00:00Z",
        "diskUsage": 1200,
        "hasWikiEnabled": True,
        "isFork": False,
        "isArchived": False,
        "primaryLanguage": {"name": "Go"},
        "licenseInfo": {"spdxId": "MIT"},
        **dict.fromkeys(COUNTED, count),
        "pages": {"totalCount": 0},
        "owner": {
            "__typename": "User",
            "login": "octo",
            "followers": {"totalCount": 9},
            "repositories": {"totalCount": 5},
        },
        "defaultBranchRef": {
            "target": {"history": {"totalCount": 100}, "lastYear": {"totalCount": 10}}
        },
        "readme0": None,
        "readme1": {"byteSize": 2048},
    }
    return {**base, **changes}


def record(**changes: Any) -> StoredRecord:
    return to_record(RepositoryPayload.model_validate(payload(**changes)), SNAPSHOT)


def test_a_full_payload_fills_every_record_column() -> None:
    result = record()
    assert set(RECORD_COLUMNS) <= set(result)
    assert result["readme_size_bytes"] == 2048
    assert (result["commits_total"], result["commits_last_year"]) == (100, 10)
    assert (result["owner_followers"], result["owner_is_organization"]) == (9, False)
    assert result["license"] == "MIT" and result["has_pages"] is False
    assert result["contributors"] is None and result["unknown_fields"] is None


def test_organisations_have_no_followers_and_no_license_is_none() -> None:
    owner = {"__typename": "Organization", "login": "o", "repositories": {"totalCount": 2}}
    result = record(owner=owner, licenseInfo=None, pages={"totalCount": 2})
    assert result["owner_followers"] == 0 and result["owner_is_organization"] is True
    assert result["license"] == "none" and result["has_pages"] is True


def test_an_empty_repository_has_zero_commits_and_no_readme() -> None:
    result = record(defaultBranchRef=None, readme1=None)
    assert (result["commits_total"], result["readme_size_bytes"]) == (0, None)


def test_fields_github_failed_to_resolve_are_unknown_not_zero() -> None:
    raw = RepositoryPayload.model_validate(payload(defaultBranchRef={"target": None}))
    result = to_record(raw, SNAPSHOT, ["defaultBranchRef"])
    assert result["commits_total"] is None and result["commits_last_year"] is None
    assert result["unknown_fields"] == "commits_last_year,commits_total"
