"""Contributor counts, which GraphQL doesn't expose: one REST request per repository.

`GET /repos/{owner}/{repo}/contributors?per_page=1` has one contributor per page, so the page
number of the `Link` header's `last` relation is the count. GitHub refuses repositories whose
history is too large (403, "too large to list contributors"): those are recorded as unknown with
the status `too_large`, never as a made-up number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import parse_qs, urlsplit

import httpx

from starcast.extraction.graphql import GitHubClient, GitHubError, MalformedResponseError

logger = logging.getLogger(__name__)

TOO_LARGE_MARKER: Final = "too large to list contributors"
ContributorStatus = Literal["ok", "too_large", "not_found"]


@dataclass(frozen=True)
class ContributorCount:
    node_id: str
    count: int | None
    status: ContributorStatus


async def count_contributors(
    client: GitHubClient, node_id: str, full_name: str
) -> ContributorCount:
    path = f"/repos/{full_name}/contributors"
    response = await client.rest_get(path, {"per_page": 1})
    if response.status_code == 204:  # an empty repository
        return ContributorCount(node_id, 0, "ok")
    if response.status_code == 404:
        return ContributorCount(node_id, None, "not_found")
    if response.status_code == 403 and TOO_LARGE_MARKER in response.text.lower():
        logger.info("%s: contributor list too large for the API; recorded as unknown", full_name)
        return ContributorCount(node_id, None, "too_large")
    if response.status_code != 200:
        raise GitHubError(f"GET {path}: HTTP {response.status_code}: {response.text[:200]}")
    return ContributorCount(node_id, _count(path, response), "ok")


def _count(path: str, response: httpx.Response) -> int:
    last = response.links.get("last")
    if last is not None:
        pages = parse_qs(urlsplit(last["url"]).query).get("page")
        if not pages or not pages[0].isdigit():
            raise MalformedResponseError(f"GET {path}: Link rel=last has no page: {last['url']}")
        return int(pages[0])
    try:
        body = response.json()
    except ValueError as error:
        raise MalformedResponseError(f"GET {path}: body is not JSON") from error
    if not isinstance(body, list):
        raise MalformedResponseError(f"GET {path}: expected a list, got {type(body).__name__}")
    return len(body)  # one page: 0 or 1 contributor
