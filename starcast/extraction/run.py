"""One extraction run, resumable at any point: plan, fetch, retry, count contributors.

1. Plan: count probes slice the search space under the 1,000-result cap; the slices are saved.
2. Fetch: every slice is paged with all fields in the search query itself, each page sized to
   the points its token has left; a page and its slice's cursor are committed together.
3. Retry: repositories that failed (whole pages that kept failing, nodes GitHub couldn't resolve)
   are fetched by id in `nodes(ids:)` batches that split in halves while they fail, so one bad
   repository doesn't sink a hundred.
4. Contributors (when asked): one REST request per repository.

Running the same spec again resumes an unfinished run; a finished one is refreshed by a new run.
Every database call runs in a worker thread (`asyncio.to_thread`): SQLAlchemy blocks, and a commit
on the event loop would stall every request in flight while the database works.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from starcast.extraction import queries
from starcast.extraction.checkpoint import (
    Checkpoint,
    PageCommit,
    Phase,
    PlannedRow,
    RunRow,
    SliceRow,
    spec_json,
)
from starcast.extraction.clock import Clock, SystemClock, utc
from starcast.extraction.contributors import count_contributors
from starcast.extraction.graphql import (
    GitHubClient,
    GraphQLResult,
    MalformedResponseError,
    TransientError,
)
from starcast.extraction.payloads import (
    CountPayload,
    SearchPagePayload,
    TopPayload,
)
from starcast.extraction.progress import ExtractProgress
from starcast.extraction.records import StoredRecord, records_from_nodes
from starcast.extraction.settings import GitHubSettings
from starcast.extraction.slicing import PlannedSlice, SearchSlice, plan
from starcast.extraction.spec import RunSpec
from starcast.extraction.tokens import Resource, TokenPool

logger = logging.getLogger(__name__)

YEAR = timedelta(days=365)
CONTRIBUTOR_FLUSH = 50


@dataclass
class RunSummary:
    run_id: int
    resumed: bool
    slices: int = 0
    truncated_slices: int = 0
    expected: int = 0
    stored: int = 0
    failed: list[tuple[str, str, str | None]] = field(default_factory=list)
    points_spent: int = 0
    graphql_requests: int = 0
    rest_requests: int = 0
    retries: int = 0
    secondary_limits: int = 0
    primary_limits: int = 0


@dataclass
class _PagePlan:
    """A search page sized at send time to the points its token can spend."""

    query: str
    want: int
    after: str | None
    clock: Clock
    first: int = 0
    snapshot: datetime | None = None

    @property
    def desired(self) -> int:
        return queries.search_page_cost(self.want)

    @property
    def minimum(self) -> int:
        return queries.search_page_cost(1)

    def build(self, points: int) -> queries.BuiltQuery:
        self.first = queries.largest_page_within(points, self.want)
        self.snapshot = utc(self.clock)
        return queries.search_page(self.query, self.first, self.after, self.snapshot - YEAR)


class Extraction:
    def __init__(
        self,
        spec: RunSpec,
        checkpoint: Checkpoint,
        client: GitHubClient,
        progress: ExtractProgress,
        *,
        node_attempts: int = 3,
    ) -> None:
        self.spec = spec
        self.checkpoint = checkpoint
        self.repositories = checkpoint.repositories
        self.client = client
        self.clock = client.clock
        self.progress = progress
        self.node_attempts = node_attempts
        self._slots = asyncio.Semaphore(client.settings.max_concurrency)

    async def run(self, *, restart: bool = False) -> RunSummary:
        key = self.spec.key()
        run = None if restart else await asyncio.to_thread(self.checkpoint.unfinished_run, key)
        summary = RunSummary(run_id=0, resumed=run is not None)
        if run is None:
            run = await asyncio.to_thread(
                self.checkpoint.create_run, key, spec_json(self.spec.model_dump()), utc(self.clock)
            )
        else:
            logger.info("resuming run %d (%s)", run.run_id, run.phase)
        summary.run_id = run.run_id
        phase = run.phase
        if phase == Phase.PLANNING:
            await self._plan(run)
            phase = Phase.FETCHING
        if phase == Phase.FETCHING:
            await self._fetch(run)
            phase = Phase.RETRYING
            await asyncio.to_thread(self.checkpoint.set_phase, run.run_id, phase)
        if phase == Phase.RETRYING:
            await self._retry(run)
            phase = Phase.CONTRIBUTORS if self.spec.contributors else Phase.DONE
            await asyncio.to_thread(self.checkpoint.set_phase, run.run_id, phase)
        if phase == Phase.CONTRIBUTORS:
            await self._contributors(run)
        await asyncio.to_thread(self.checkpoint.set_phase, run.run_id, Phase.DONE, utc(self.clock))
        planned = await asyncio.to_thread(self.checkpoint.slices, run.run_id)
        stats = self.client.stats
        summary.slices = len(planned)
        summary.truncated_slices = sum(s.truncated for s in planned)
        summary.expected = sum(s.expected for s in planned)
        summary.stored = await asyncio.to_thread(self.repositories.count, run.run_id)
        summary.failed = await asyncio.to_thread(self.checkpoint.failures, run.run_id)
        summary.points_spent = stats.points_spent
        summary.graphql_requests = stats.graphql_requests
        summary.rest_requests = stats.rest_requests
        summary.retries = stats.retries
        summary.secondary_limits = stats.secondary_limits
        summary.primary_limits = stats.primary_limits
        return summary

    # -- 1. plan ---------------------------------------------------------------------------------
    async def _plan(self, run: RunRow) -> None:
        self.progress.phase("planning", None)
        roots = self.spec.roots(utc(self.clock))
        max_stars = self.spec.max_stars
        if max_stars is None:
            # The highest star count over every language bounds each root's star range.
            everything = replace(roots[0], language=None)
            result = await self.client.graphql(queries.count_probe([], top=everything.top_query()))
            top = _parse(TopPayload, result, "top")
            first = top.nodes[0] if top.nodes else None
            max_stars = first.stargazer_count if first is not None else self.spec.min_stars
        planned = await plan(roots, self._count, max_stars)
        await asyncio.to_thread(self.checkpoint.save_plan, run.run_id, [_row(p) for p in planned])

    async def _count(self, search_queries: Sequence[str]) -> list[int]:
        size = queries.MAX_PROBES_PER_QUERY
        chunks = [search_queries[i : i + size] for i in range(0, len(search_queries), size)]

        async def probe(chunk: Sequence[str]) -> list[int]:
            result = await self.client.graphql(queries.count_probe(chunk))
            if result.errors:
                raise MalformedResponseError(
                    f"{result.query.name}: {'; '.join(e.message for e in result.errors)}"
                )
            return [
                _parse(CountPayload, result, f"p{i}").repository_count for i in range(len(chunk))
            ]

        counts = await asyncio.gather(*(probe(c) for c in chunks))
        return [n for chunk in counts for n in chunk]

    # -- 2. fetch --------------------------------------------------------------------------------
    async def _fetch(self, run: RunRow) -> None:
        rows = await asyncio.to_thread(self.checkpoint.slices, run.run_id)
        self.progress.phase(
            "fetching",
            sum(min(r.expected, queries.SEARCH_RESULT_CAP) for r in rows),
            sum(r.fetched for r in rows),
        )
        await _all(self._fetch_slice(run, row) for row in rows if not row.done)

    async def _fetch_slice(self, run: RunRow, row: SliceRow) -> None:
        async with self._slots:
            await self._page_through(run, row)

    async def _page_through(self, run: RunRow, row: SliceRow) -> None:
        cursor, fetched = row.cursor, row.fetched
        while True:
            remaining = row.expected - fetched
            want = min(queries.MAX_PAGE, remaining if remaining > 0 else queries.MAX_PAGE)
            want = min(want, queries.SEARCH_RESULT_CAP - fetched)
            if want <= 0:
                return
            fetched_page = await self._fetch_page(run, row, cursor, want)
            if fetched_page is None:  # the slice was split and fetched as its parts
                return
            page, records, retry = fetched_page
            fetched += len(page.nodes)
            cursor = page.page_info.end_cursor or cursor
            done = not page.page_info.has_next_page or fetched >= queries.SEARCH_RESULT_CAP
            commit = PageCommit(records, retry, row.position, cursor, fetched, done)
            await asyncio.to_thread(
                self.checkpoint.commit_page, run.run_id, commit, utc(self.clock)
            )
            self.progress.advance(len(page.nodes))
            self.progress.budget(self.client.pool.view())
            if done:
                return

    async def _fetch_page(
        self, run: RunRow, row: SliceRow, cursor: str | None, want: int
    ) -> tuple[SearchPagePayload, list[StoredRecord], list[str]] | None:
        """One page: its payload, its records, and the ids to fetch again by id."""
        page_plan = _PagePlan(row.query, want, cursor, self.clock)
        try:
            result = await self.client.graphql(page_plan)
            page: SearchPagePayload = _parse(SearchPagePayload, result, "search")
        except (TransientError, MalformedResponseError) as error:
            logger.warning("%s; fetching its repositories by id instead", error)
            page = await self._page_ids(row.query, page_plan.first or want, cursor)
            return page, [], [n["id"] for n in page.nodes if n and isinstance(n.get("id"), str)]
        outgrown = cursor is None and page.repository_count > queries.SEARCH_RESULT_CAP
        if outgrown and await self._resplit(run, row, page.repository_count):
            return None
        assert page_plan.snapshot is not None
        records, retry = records_from_nodes(
            page.nodes, result.errors, ["search", "nodes"], page_plan.snapshot
        )
        nulls = [i for i, node in enumerate(page.nodes) if node is None]
        if nulls:  # failed whole: learn their ids to fetch them by id
            listed = await self._page_ids(row.query, len(page.nodes), cursor)
            retry += [
                str(node["id"])
                for i in nulls
                if i < len(listed.nodes) and (node := listed.nodes[i])
            ]
        return page, records, retry

    async def _resplit(self, run: RunRow, row: SliceRow, count: int) -> bool:
        """The slice outgrew the cap since it was planned: split it and fetch its parts."""
        piece = SearchSlice.from_json(row.bounds)
        planned = await plan([piece], self._count, piece.stars_max)
        if len(planned) == 1 and planned[0].truncated:
            return False  # can't be split: fetch what search returns (logged by the planner)
        logger.warning(
            "slice %r grew to %d results since it was planned; fetching it as %d slices",
            row.query,
            count,
            len(planned),
        )
        for part in await asyncio.to_thread(
            self.checkpoint.replace_slice, run.run_id, row.position, [_row(p) for p in planned]
        ):
            await self._page_through(run, part)
        return True

    async def _page_ids(self, query: str, first: int, after: str | None) -> SearchPagePayload:
        result = await self.client.graphql(queries.page_ids(query, first, after))
        page: SearchPagePayload = _parse(SearchPagePayload, result, "search")
        return page

    # -- 3. retry --------------------------------------------------------------------------------
    async def _retry(self, run: RunRow) -> None:
        waiting = await asyncio.to_thread(self.checkpoint.pending_ids, run.run_id)
        if not waiting:
            return
        self.progress.phase("retrying", len(waiting))
        while waiting:
            await _all(
                self._retry_batch(run, waiting[start : start + queries.MAX_PAGE])
                for start in range(0, len(waiting), queries.MAX_PAGE)
            )
            waiting = await asyncio.to_thread(self.checkpoint.pending_ids, run.run_id)

    async def _retry_batch(self, run: RunRow, batch: Sequence[tuple[str, int]]) -> None:
        async with self._slots:
            await self._retry_split(run, batch)

    async def _retry_split(self, run: RunRow, batch: Sequence[tuple[str, int]]) -> None:
        ids = [node_id for node_id, _ in batch]
        snapshot = utc(self.clock)
        try:
            result = await self.client.graphql(queries.nodes(ids, snapshot - YEAR))
            items = result.data.get("nodes")
            if not isinstance(items, list) or len(items) != len(ids):
                raise MalformedResponseError(
                    f"{result.query.name}: `nodes` is not {len(ids)} items"
                )
        except (TransientError, MalformedResponseError) as error:
            if len(batch) == 1:
                logger.error("repository %s keeps failing: %s", ids[0], error)
                await asyncio.to_thread(
                    self.checkpoint.commit_retry,
                    run.run_id,
                    [],
                    [],
                    [],
                    [(ids[0], "failed", str(error))],
                    snapshot,
                )
                return
            half = len(batch) // 2
            logger.info("batch of %d keeps failing; splitting it", len(batch))
            await self._retry_split(run, batch[:half])
            await self._retry_split(run, batch[half:])
            return
        attempts = dict(batch)
        records, again = records_from_nodes(items, result.errors, ["nodes"], snapshot)
        not_found = {
            ids[e.path[1]]
            for e in result.errors
            if e.type == "NOT_FOUND" and e.path and len(e.path) == 2 and isinstance(e.path[1], int)
        }
        retry_ids = set(again) | {
            ids[i] for i, item in enumerate(items) if item is None and ids[i] not in not_found
        }
        retry: list[tuple[str, str]] = []
        failed: list[tuple[str, str, str]] = [(i, "not_found", "NOT_FOUND") for i in not_found]
        stored = {r["node_id"] for r in records}
        for node_id in sorted(retry_ids):
            message = "; ".join(e.message for e in result.errors)[:500]
            if attempts[node_id] + 1 >= self.node_attempts:
                # What resolved is stored with the rest unknown; the failure stays on record.
                failed.append((node_id, "incomplete" if node_id in stored else "failed", message))
            else:
                retry.append((node_id, message))
        resolved = [i for i in ids if i not in retry_ids and i not in not_found]
        await asyncio.to_thread(
            self.checkpoint.commit_retry, run.run_id, records, resolved, retry, failed, snapshot
        )
        self.progress.advance(len(resolved))

    # -- 4. contributors -------------------------------------------------------------------------
    async def _contributors(self, run: RunRow) -> None:
        todo = await asyncio.to_thread(
            self.repositories.needing_contributors, run.run_id, run.started_at
        )
        self.progress.phase("contributors", len(todo))
        buffer: list[tuple[str, int | None, str]] = []
        slots = asyncio.Semaphore(self.client.settings.max_concurrency)

        async def one(node_id: str, full_name: str) -> None:
            async with slots:
                result = await count_contributors(self.client, node_id, full_name)
            buffer.append((result.node_id, result.count, result.status))
            self.progress.advance(1)
            self.progress.budget(self.client.pool.view(Resource.REST), "rest")
            if len(buffer) >= CONTRIBUTOR_FLUSH:
                # Taken before the write awaits: counts that arrive meanwhile wait for the next.
                flushed = buffer[:]
                buffer.clear()
                await asyncio.to_thread(
                    self.repositories.set_contributors, flushed, utc(self.clock)
                )

        try:
            await _all(one(node_id, full_name) for node_id, full_name in todo)
        finally:
            if buffer:
                await asyncio.to_thread(self.repositories.set_contributors, buffer, utc(self.clock))


def _row(planned: PlannedSlice) -> PlannedRow:
    piece = planned.slice
    return PlannedRow(piece.query(), piece.to_json(), planned.count, planned.truncated)


async def _all(coroutines: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run together; the first failure cancels the rest and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            for coroutine in coroutines:
                group.create_task(coroutine)
    except BaseExceptionGroup as failures:
        first: BaseException = failures
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from failures


def _parse(model: Any, result: GraphQLResult, key: str) -> Any:
    """`result.data[key]` as `model`; anything else is a malformed response naming the query."""
    value = result.data.get(key)
    if value is None:
        detail = "; ".join(e.message for e in result.errors) or "null"
        raise MalformedResponseError(f"{result.query.name}: no `{key}` in the response ({detail})")
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise MalformedResponseError(
            f"{result.query.name}: `{key}` does not match GitHub's schema: {error}"
        ) from error


async def run_extraction(
    spec: RunSpec,
    settings: GitHubSettings,
    checkpoint: Checkpoint,
    progress: ExtractProgress,
    *,
    clock: Clock | None = None,
    restart: bool = False,
) -> RunSummary:
    """Build the token pool and client from settings, and run (or resume) `spec`."""
    clock = clock or SystemClock()
    pool = TokenPool(settings.load_tokens(), clock, settings.reset_margin_seconds)
    async with GitHubClient(settings, pool, clock) as client:
        extraction = Extraction(
            spec, checkpoint, client, progress, node_attempts=settings.node_attempts
        )
        return await extraction.run(restart=restart)
