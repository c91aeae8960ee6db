"""What the extractor stores for given repositories of a (fake) GitHub: the reference records
tests compare other paths with (prediction by owner/name, the frontend's lookup)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic import SecretStr

from starcast.extraction import queries
from starcast.extraction.clock import SystemClock, utc
from starcast.extraction.graphql import GitHubClient
from starcast.extraction.records import StoredRecord, records_from_nodes
from starcast.extraction.run import YEAR
from starcast.extraction.settings import GitHubSettings
from starcast.extraction.tokens import TokenPool


def extracted_records(api_url: str, secret: str, node_ids: Sequence[str]) -> list[StoredRecord]:
    """Records of `node_ids` as the extractor fetches and stores them (its by-id path), in order."""

    async def fetch() -> list[StoredRecord]:
        settings = GitHubSettings(api_url=api_url, token=SecretStr(secret))
        clock = SystemClock()
        pool = TokenPool(settings.load_tokens(), clock)
        async with GitHubClient(settings, pool, clock) as client:
            snapshot = utc(clock)
            result = await client.graphql(queries.nodes(node_ids, snapshot - YEAR))
        nodes = result.data["nodes"]
        records, retry = records_from_nodes(nodes, result.errors, ["nodes"], snapshot)
        if retry:
            raise AssertionError(f"the extractor would retry {retry}: {result.errors}")
        by_id = {record["node_id"]: record for record in records}
        return [by_id[node_id] for node_id in node_ids]

    return asyncio.run(fetch())
