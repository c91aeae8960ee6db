"""Repositories by owner/name for the serving frontend: `RepositoryLookup` on GitHub's GraphQL API.

- One request asks for up to 100 repositories (aliased `repository(owner:, name:)` fields with the
  extractor's fragment, priced by the same rules), and each answer becomes exactly the record the
  extractor stores (`records.to_record`, snapshot = when the request was built).
- A frontend request can't sit out a rate-limit reset: when the token's budget is spent, or GitHub
  asks for a pause (403/429, `RATE_LIMITED`), the lookup fails at once saying when to retry.
- Answers (unknown names too) are kept for a few minutes, at most a few thousand; concurrent
  requests for the same repository share one fetch.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx
from pydantic import AnyHttpUrl, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from starcast.extraction import queries
from starcast.extraction.clock import Clock, SystemClock, utc
from starcast.extraction.graphql import GitHubClient, GitHubError
from starcast.extraction.records import StoredRecord, records_from_aliases
from starcast.extraction.settings import GitHubSettings, TokenError
from starcast.extraction.tokens import IN_FLIGHT_POLL, Lease, Resource, TokenPool
from starcast.features import RepositoryRecord
from starcast.github import GITHUB_GRAPHQL_URL, LookupFailedError, split_full_name

logger = logging.getLogger(__name__)

CACHE_TTL_S: Final = 300.0  # stars and counts barely move in minutes; popular names recur
CACHE_SIZE: Final = 4096
# `commits_last_year` counts the year before the snapshot, as in the extractor (run.YEAR).
COMMIT_WINDOW: Final = timedelta(days=365)
MAX_CONCURRENCY: Final = 4  # requests to GitHub in flight at once (it asks for few)
MAX_ATTEMPTS: Final = 2  # one retry of a 502/504: a request's deadline leaves room for no more
BACKOFF_S: Final = 0.5
SPENT: Final = "GitHub's rate limit for this frontend's token is spent"
SECONDARY: Final = "GitHub's secondary rate limit is in effect"


class RateLimitedError(GitHubError):
    """GitHub's rate limit stands in the way until `until` (epoch seconds)."""

    def __init__(self, limit: str, until: float, now: float) -> None:
        at = datetime.fromtimestamp(until, UTC).strftime("%H:%M:%S UTC")
        super().__init__(
            f"{limit}; retry after {at} (in {max(1, math.ceil(until - now))} s), "
            "or send the repository's `features`"
        )
        self.until = until


class _WouldWaitError(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"would wait {seconds:.1f} s")
        self.seconds = seconds


class _NoWaiting:
    """A clock whose `sleep` refuses anything longer than the pool's poll for answers in flight."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def time(self) -> float:
        return self._clock.time()

    async def sleep(self, seconds: float) -> None:
        if seconds > IN_FLIGHT_POLL:
            raise _WouldWaitError(seconds)
        await self._clock.sleep(seconds)


class FailFastTokenPool(TokenPool):
    """A token pool that raises `RateLimitedError` where the extractor's waits for a reset.

    The client marks a token spent (`exhausted`) or pauses the pool (`pause`) when GitHub says
    so, then asks the pool again: the pool would sleep until the reset or for the pause, and
    that sleep is where a frontend request gives up instead.
    """

    def __init__(self, secrets: list[SecretStr], clock: Clock) -> None:
        super().__init__(secrets, _NoWaiting(clock), reset_margin=0.0)

    async def acquire(self, resource: Resource, desired: int, minimum: int | None = None) -> Lease:
        now = self.clock.time()
        floor = desired if minimum is None else minimum
        budgets = [t.budgets[resource] for t in self.tokens if t.disabled is None]
        resets = [b.reset_at for b in budgets if b.reset_at is not None and b.reset_at > now]
        if budgets and len(resets) == len(budgets) and all(b.available < floor for b in budgets):
            # The usual case, refused before the pool logs that it waits.
            raise RateLimitedError(SPENT, min(resets), now)
        try:
            return await super().acquire(resource, desired, minimum)
        except _WouldWaitError as wait:
            now = self.clock.time()
            limit = SECONDARY if self.paused_until > now else SPENT
            raise RateLimitedError(limit, now + wait.seconds, now) from None


class _FromInitOnly(GitHubSettings):
    """The client's settings as given, not read from `STARCAST_GITHUB_*`: the frontend's own
    settings decide them (the extractor's variables in the same environment must not)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@dataclass(frozen=True)
class _Failed:
    """GitHub answered, but not with this repository (an error other than NOT_FOUND)."""

    message: str


# A fetch's answer per cache key: the record, None for a name GitHub doesn't know, or why not.
_Answer = StoredRecord | _Failed | None


@dataclass(frozen=True)
class _Entry:
    record: StoredRecord | None  # None: GitHub has no such repository
    expires: float


class RecentLookups:
    """Answers of the last `ttl_s` seconds, the `max_entries` most recently used."""

    def __init__(self, ttl_s: float, max_entries: int, now: Callable[[], float]) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._now = now
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self._now():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, record: StoredRecord | None) -> None:
        if self.ttl_s <= 0 or self.max_entries <= 0:
            return
        self._entries[key] = _Entry(record, self._now() + self.ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class GitHubRepositoryLookup:
    """`starcast.github.RepositoryLookup` with the extractor's GitHub client."""

    def __init__(
        self,
        client: GitHubClient,
        *,
        cache_ttl_s: float = CACHE_TTL_S,
        cache_size: int = CACHE_SIZE,
        now: Callable[[], float] = time.monotonic,
        batch_size: int = queries.MAX_PAGE,
    ) -> None:
        if not 1 <= batch_size <= queries.MAX_PAGE:
            raise ValueError(f"batch_size must be 1 to {queries.MAX_PAGE}, not {batch_size}")
        self.client = client
        self.batch_size = batch_size
        self.cache = RecentLookups(cache_ttl_s, cache_size, now)
        self._pending: dict[str, asyncio.Task[dict[str, _Answer]]] = {}
        self._stack: AsyncExitStack | None = None

    @classmethod
    def for_token(
        cls,
        token: SecretStr,
        graphql_url: AnyHttpUrl | str = GITHUB_GRAPHQL_URL,
        *,
        timeout_s: float,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> GitHubRepositoryLookup:
        """A lookup with one token, answering within `timeout_s` (a request's deadline)."""
        settings = _FromInitOnly(
            graphql_url=AnyHttpUrl(str(graphql_url)),
            token=token,
            max_concurrency=MAX_CONCURRENCY,
            request_timeout_seconds=timeout_s,
            max_attempts=MAX_ATTEMPTS,
            backoff_seconds=BACKOFF_S,
            user_agent="starcast-frontend",
        )
        clock = clock or SystemClock()
        pool = FailFastTokenPool(settings.load_tokens(), clock)
        return cls(GitHubClient(settings, pool, clock, transport=transport), **options)

    async def records(self, full_names: Sequence[str]) -> Mapping[str, RepositoryRecord]:
        keys = {name: _key(name) for name in full_names}  # validates every name first
        answers: dict[str, _Answer] = {}
        waits: dict[str, asyncio.Task[dict[str, _Answer]]] = {}
        missing: dict[str, tuple[str, str]] = {}
        for name, key in keys.items():
            if (entry := self.cache.get(key)) is not None:
                answers[key] = entry.record
            elif (task := self._pending.get(key)) is not None:
                waits[key] = task
            elif key not in missing:
                missing[key] = split_full_name(name)
        if missing:
            await self._open()
            for chunk in _chunks(list(missing.items()), self.batch_size):
                task = asyncio.create_task(self._fetch(dict(chunk)))
                task.add_done_callback(self._settled)
                for key, _ in chunk:
                    self._pending[key] = waits[key] = task
        for task in set(waits.values()):
            # Shielded: a request that gives up (its deadline) leaves the fetch to the others
            # waiting for it, and to the cache.
            answered = await asyncio.shield(task)
            answers.update({key: answered[key] for key in waits if key in answered})
        found: dict[str, RepositoryRecord] = {}
        for name, key in keys.items():
            answer = answers[key]
            if isinstance(answer, _Failed):
                raise LookupFailedError(f"GitHub could not resolve {name!r}: {answer.message}")
            if answer is not None:
                found[name] = answer.copy()
        return found

    async def aclose(self) -> None:
        for task in self._pending.values():
            task.cancel()
        await asyncio.gather(*self._pending.values(), return_exceptions=True)
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def _open(self) -> None:
        """Connect on first use, inside the server's event loop."""
        if self._stack is None:
            stack = self._stack = AsyncExitStack()
            await stack.enter_async_context(self.client)

    async def _fetch(self, names: dict[str, tuple[str, str]]) -> dict[str, _Answer]:
        snapshot = utc(self.client.clock)
        query = queries.repositories(list(names.values()), snapshot - COMMIT_WINDOW)
        try:
            result = await self.client.graphql(query)
        except TokenError as error:
            raise LookupFailedError(
                f"GitHub refused the frontend's token ({error}); set a valid STARCAST_GITHUB_TOKEN"
            ) from error
        except RateLimitedError as error:
            retry_after_s = max(1.0, error.until - self.client.clock.time())
            raise LookupFailedError(str(error), retry_after_s=retry_after_s) from error
        except GitHubError as error:
            raise LookupFailedError(str(error)) from error
        aliases = [queries.repository_alias(i) for i in range(len(names))]
        parsed = records_from_aliases(result.data, result.errors, aliases, snapshot)
        answers: dict[str, _Answer] = {}
        for key, alias in zip(names, aliases, strict=True):
            record = parsed.records.get(alias)
            if alias in parsed.failed:
                answers[key] = _Failed(parsed.failed[alias])
            elif record is not None and record["unknown_fields"] is not None:
                # Stored like this by the extractor after its retries; not kept, so the next
                # request asks again.
                logger.warning(
                    "%s: GitHub failed the fields of %s; they stay unknown",
                    key,
                    record["unknown_fields"],
                )
                answers[key] = record
            else:
                answers[key] = record
                self.cache.put(key, record)
        logger.info(
            "looked up %d repositories (%d unknown, %d failed) for %d points",
            len(names),
            len(parsed.not_found),
            len(parsed.failed),
            result.rate_limit.cost if result.rate_limit is not None else query.cost,
        )
        return answers

    def _settled(self, task: asyncio.Task[dict[str, _Answer]]) -> None:
        for key in [key for key, pending in self._pending.items() if pending is task]:
            del self._pending[key]
        if not task.cancelled():
            task.exception()  # read here too: every waiter may have given up on it


def _key(full_name: str) -> str:
    """The cache key of a name (GitHub's names are case-insensitive); RepositoryNameError."""
    owner, name = split_full_name(full_name)
    return f"{owner}/{name}".lower()


def _chunks(
    items: Sequence[tuple[str, tuple[str, str]]], size: int
) -> Iterable[Sequence[tuple[str, tuple[str, str]]]]:
    return (items[start : start + size] for start in range(0, len(items), size))
