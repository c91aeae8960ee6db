"""The HTTP side: GraphQL and REST requests to GitHub within its limits.

- Primary limit: each request leases points from the token pool first; a refusal (403/429 with
  `x-ratelimit-remaining: 0`, or a `RATE_LIMITED` error) marks that token spent until its reset
  and the request goes to the next token, or waits for the reset.
- Secondary limits: `Retry-After` is honoured to the second; without it the wait starts at
  `secondary_wait_seconds` and doubles while they continue, up to `secondary_max_wait_seconds`.
  A request that meets one `secondary_attempts` times raises `SecondaryRateLimitError`. At most
  `max_concurrency` requests are in flight.
- 502/503/504, timeouts and unreadable bodies: retried with exponential backoff, then raised
  (`TransientError`, `MalformedResponseError`) for the caller to split the batch or stop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Literal, Protocol, TypeVar

import httpx
from pydantic import ValidationError

from starcast.extraction.clock import Clock
from starcast.extraction.payloads import Envelope, GraphQLErrorPayload, RateLimitPayload
from starcast.extraction.queries import BuiltQuery
from starcast.extraction.settings import GitHubSettings
from starcast.extraction.tokens import Lease, Resource, TokenPool

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES: Final = frozenset({500, 502, 503, 504})
Limit = Literal["primary", "secondary"]
PRIMARY: Final[Limit] = "primary"
SECONDARY: Final[Limit] = "secondary"


class GitHubError(RuntimeError):
    """GitHub could not answer a request; the message names the request."""


class TransientError(GitHubError):
    """Still failing after every retry (5xx, timeouts): worth splitting or resuming later."""


class MalformedResponseError(GitHubError):
    """The answer is not what GitHub's API documents."""


class SecondaryRateLimitError(GitHubError):
    """A request met GitHub's secondary rate limit on every attempt allowed."""


class QueryError(GitHubError):
    """GitHub rejected the query itself (`errors` and no data): a bug in the query, not a fault."""


class QueryPlan(Protocol):
    """A query sized at send time to the points a token can spend on it."""

    @property
    def desired(self) -> int: ...

    @property
    def minimum(self) -> int: ...

    def build(self, points: int) -> BuiltQuery: ...


@dataclass(frozen=True)
class Fixed:
    query: BuiltQuery

    @property
    def desired(self) -> int:
        return self.query.cost

    @property
    def minimum(self) -> int:
        return self.query.cost

    def build(self, points: int) -> BuiltQuery:
        return self.query


@dataclass(frozen=True)
class _Request:
    name: str  # for logs and errors: the query's name, or "GET <path>"
    method: str
    url: str
    body: dict[str, Any] | None = None
    params: Mapping[str, str | int] | None = None


@dataclass(frozen=True)
class _Retry:
    """The response can't be used: send again, counted as a failure (with backoff) if `failure`
    says what was wrong, at once otherwise (a limit already waited for)."""

    failure: str | None = None
    malformed: bool = False


SentT = TypeVar("SentT")
AnswerT = TypeVar("AnswerT")


@dataclass(frozen=True)
class GraphQLResult:
    query: BuiltQuery
    data: dict[str, Any]
    errors: list[GraphQLErrorPayload]
    rate_limit: RateLimitPayload | None


@dataclass
class ClientStats:
    graphql_requests: int = 0
    rest_requests: int = 0
    points_spent: int = 0
    retries: int = 0
    secondary_limits: int = 0
    primary_limits: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class GitHubClient:
    def __init__(
        self,
        settings: GitHubSettings,
        pool: TokenPool,
        clock: Clock,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.clock = clock
        self.stats = ClientStats()
        self._transport = transport
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._secondary_streak = 0
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> GitHubClient:
        self._http = httpx.AsyncClient(
            timeout=self.settings.request_timeout_seconds,
            headers={"User-Agent": self.settings.user_agent, "Accept": "application/json"},
            transport=self._transport,
            limits=httpx.Limits(max_connections=self.settings.max_concurrency),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def graphql(self, plan: QueryPlan | BuiltQuery) -> GraphQLResult:
        """Send a query; partial `errors` come back with the data for the caller to judge."""
        sized = Fixed(plan) if isinstance(plan, BuiltQuery) else plan

        def prepare(points: int) -> tuple[_Request, BuiltQuery]:
            query = sized.build(points)
            body = {"query": query.text, "variables": dict(query.variables)}
            return _Request(query.name, "POST", self.settings.graphql_endpoint, body), query

        return await self._exchange(
            Resource.GRAPHQL, sized.desired, sized.minimum, prepare, self._graphql_answer
        )

    async def rest_get(self, path: str, params: Mapping[str, str | int]) -> httpx.Response:
        """GET a REST resource; rate limits and 5xx are handled here, other statuses returned."""
        request = _Request(f"GET {path}", "GET", f"{self.settings.rest_root}{path}", None, params)
        return await self._exchange(
            Resource.REST, 1, 1, lambda _: (request, None), self._rest_answer
        )

    async def _exchange(
        self,
        resource: Resource,
        desired: int,
        minimum: int,
        prepare: Callable[[int], tuple[_Request, SentT]],
        answer: Callable[[SentT, Lease, httpx.Response], AnswerT | _Retry],
    ) -> AnswerT:
        """Lease points, send, and resend until `answer` takes the response: the one loop of
        limits (primary, secondary), revoked tokens (401) and retries with backoff (5xx,
        transport errors, and what `answer` finds unusable)."""
        failures = secondary_hits = 0
        while True:
            lease = await self.pool.acquire(resource, desired, minimum)
            request, sent = prepare(lease.points)
            try:
                response = await self._send(request, lease)
            except httpx.TransportError as error:
                self.pool.release(lease)
                failures = await self._failed(request.name, failures, type(error).__name__)
                continue
            if resource == Resource.GRAPHQL:
                self.stats.graphql_requests += 1
            else:
                self.stats.rest_requests += 1
            if limit := self._limited(response, lease, request.name, secondary_hits):
                secondary_hits += limit == SECONDARY
                continue
            if response.status_code == 401:
                self.pool.release(lease)
                self.pool.disable(lease.token, "GitHub rejected it (401 Bad credentials)")
                continue
            if response.status_code in RETRYABLE_STATUSES:
                self._settle(lease, response)
                detail = f"HTTP {response.status_code}"
                failures = await self._failed(request.name, failures, detail)
                continue
            # Neither a limit nor a server fault: the secondary limits' backoff starts over.
            self._secondary_streak = 0
            outcome = answer(sent, lease, response)
            if not isinstance(outcome, _Retry):
                return outcome
            if outcome.failure is not None:
                failures = await self._failed(
                    request.name, failures, outcome.failure, malformed=outcome.malformed
                )

    def _graphql_answer(
        self, query: BuiltQuery, lease: Lease, response: httpx.Response
    ) -> GraphQLResult | _Retry:
        try:
            envelope = Envelope.model_validate_json(response.content)
        except ValidationError as error:
            self._settle(lease, response)
            detail = f"HTTP {response.status_code}: {_summary(error, response)}"
            return _Retry(detail, malformed=True)
        if any(e.type == "RATE_LIMITED" for e in envelope.errors):
            self.stats.primary_limits += 1
            self.pool.exhausted(lease, _header_float(response, "x-ratelimit-reset"))
            return _Retry()
        rate_limit = _rate_limit(envelope, query)
        self._settle(lease, response, rate_limit)
        if envelope.data is None:
            messages = "; ".join(e.message for e in envelope.errors)
            raise QueryError(f"{query.name}: GitHub rejected the query: {messages}")
        if response.status_code != 200:
            raise MalformedResponseError(
                f"{query.name}: HTTP {response.status_code} with a GraphQL body"
            )
        if rate_limit is not None:
            self.stats.points_spent += rate_limit.cost
        return GraphQLResult(query, envelope.data, envelope.errors, rate_limit)

    def _rest_answer(self, _: None, lease: Lease, response: httpx.Response) -> httpx.Response:
        self._settle(lease, response)
        return response

    async def _send(self, request: _Request, lease: Lease) -> httpx.Response:
        assert self._http is not None, "use the client inside `async with`"
        async with self._slots:
            response = await self._http.request(
                request.method,
                request.url,
                json=request.body,
                params=request.params,
                headers={"Authorization": lease.token.authorization()},
            )
        self.stats.by_status[response.status_code] = (
            self.stats.by_status.get(response.status_code, 0) + 1
        )
        return response

    def _limited(
        self, response: httpx.Response, lease: Lease, name: str, secondary_hits: int
    ) -> Limit | None:
        """Handle a primary or secondary limit answer: which one it was (the request must be
        resent), or None. `secondary_hits`: the request's secondary limits so far."""
        if response.status_code not in {403, 429}:
            return None
        message = _message(response).lower()
        retry_after = _header_float(response, "retry-after")
        remaining = response.headers.get("x-ratelimit-remaining")
        secondary = retry_after is not None or "secondary" in message or "abuse" in message
        if secondary:
            self.stats.secondary_limits += 1
            self._secondary_streak += 1
            self._settle(lease, response)
            backoff = self.settings.secondary_wait_seconds * 2 ** min(
                self._secondary_streak - 1, 32
            )
            wait = (
                retry_after
                if retry_after is not None
                else min(backoff, self.settings.secondary_max_wait_seconds)
            )
            attempts = self.settings.secondary_attempts
            if secondary_hits + 1 >= attempts:
                self.pool.pause(wait)  # the other requests in flight still back off
                raise SecondaryRateLimitError(
                    f"{name}: GitHub's secondary rate limit answered all {attempts} attempts "
                    f"(HTTP {response.status_code}); wait a few minutes and run again (the run "
                    "resumes), with fewer requests at once (STARCAST_GITHUB_MAX_CONCURRENCY) or "
                    "more attempts (STARCAST_GITHUB_SECONDARY_ATTEMPTS)"
                )
            logger.warning(
                "secondary rate limit on %s (%s): pausing every request for %.1f s",
                name,
                lease.token.label,
                wait,
            )
            self.pool.pause(wait)
            return SECONDARY
        if remaining == "0" or "rate limit" in message:
            self.stats.primary_limits += 1
            self.pool.exhausted(lease, _header_float(response, "x-ratelimit-reset"))
            return PRIMARY
        return None

    def _settle(
        self,
        lease: Lease,
        response: httpx.Response,
        rate_limit: RateLimitPayload | None = None,
    ) -> None:
        if rate_limit is not None:
            self.pool.settle(
                lease,
                remaining=rate_limit.remaining,
                reset_at=rate_limit.reset_at.timestamp(),
                limit=rate_limit.limit,
            )
            return
        remaining = _header_float(response, "x-ratelimit-remaining")
        limit = _header_float(response, "x-ratelimit-limit")
        self.pool.settle(
            lease,
            remaining=int(remaining) if remaining is not None else None,
            reset_at=_header_float(response, "x-ratelimit-reset"),
            limit=int(limit) if limit is not None else None,
        )

    async def _failed(
        self, name: str, failures: int, detail: str, *, malformed: bool = False
    ) -> int:
        failures += 1
        if failures >= self.settings.max_attempts:
            kind = MalformedResponseError if malformed else TransientError
            raise kind(f"{name}: {detail} (after {failures} attempts)")
        self.stats.retries += 1
        wait = self.settings.backoff_seconds * 2 ** (failures - 1) * random.uniform(0.75, 1.25)
        logger.warning("%s: %s; retry %d in %.2f s", name, detail, failures, wait)
        await self.clock.sleep(wait)
        return failures


def _rate_limit(envelope: Envelope, query: BuiltQuery) -> RateLimitPayload | None:
    raw = (envelope.data or {}).get("rateLimit")
    if raw is None:
        return None
    try:
        return RateLimitPayload.model_validate(raw)
    except ValidationError as error:
        raise MalformedResponseError(f"{query.name}: malformed rateLimit: {error}") from error


def _header_float(response: httpx.Response, name: str) -> float | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:200]
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return str(body["message"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))
    return ""


def _summary(error: ValidationError, response: httpx.Response) -> str:
    if any(e["type"] == "json_invalid" for e in error.errors()):
        content_type = response.headers.get("content-type", "no content type")
        return f"body is not JSON ({content_type}): {response.text[:80]!r}"
    return f"body does not match GitHub's GraphQL envelope ({error.error_count()} problems)"
