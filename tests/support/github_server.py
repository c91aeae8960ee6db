"""A local HTTP server that speaks GitHub's wire format, for the extractor's tests and benchmark.

- `POST /graphql`: `search` (with GitHub's qualifiers and its 1,000-result cap), `nodes(ids:)`,
  `rateLimit`, priced with GitHub's documented cost rules (see `github_graphql`), answered with
  `x-ratelimit-*` headers; `errors` carry GitHub's `type` (NOT_FOUND, RATE_LIMITED, ...).
- REST: `/repos/{owner}/{repo}` and its list endpoints (`contributors`, `pulls`, ...) with `Link`
  headers, `/repos/{owner}/{repo}/readme`, `/users/{login}`, on a separate 5,000-request budget.
- Primary limits per token and window, secondary limits (concurrency, points per minute) answered
  403 with `Retry-After`, and fault injection (`Faults`): 502/504, secondary limits, malformed
  bodies, latency, and "poison" repositories whose commit history fails.
- Time can be scaled (`ScaledClock`) so the benchmark replays GitHub's hour in seconds.

Run it alone with `python -m tests.support.github_server --help` (the benchmark does).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import re
import signal
import socket
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Literal
from urllib.parse import parse_qs, urlsplit

import numpy as np

from starcast.extraction.clock import Clock, ScaledClock, SystemClock
from tests.support.github_fixture import FakeOwner, FakeRepo, Fixture, generate
from tests.support.github_graphql import (
    Executor,
    Failure,
    FieldError,
    QueryRejectedError,
    QueryTimeoutError,
    compile_query,
    query_cost,
)

SEARCH_CAP: Final = 1000
SECONDARY_MESSAGE: Final = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
TOO_LARGE_MESSAGE: Final = (
    "The history or contributor list is too large to list contributors for this repository "
    "via the API."
)
DOCS: Final = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
TIMEOUT_MESSAGE: Final = (
    "Something went wrong while executing your query. This may be the result of a timeout, "
    "or it could be a GitHub bug."
)


@dataclass
class Faults:
    """What goes wrong, and when. Queues are consumed one request at a time."""

    poison_ids: set[str] = field(default_factory=set)
    poison_mode: Literal["timeout", "partial"] = "timeout"
    graphql_statuses: deque[int] = field(default_factory=deque)  # e.g. 502, 504
    graphql_secondary: deque[int | None] = field(default_factory=deque)  # Retry-After or None
    rest_secondary: deque[int | None] = field(default_factory=deque)
    malformed: int = 0  # the next N GraphQL answers are not JSON
    latency: float = 0.0  # real seconds added to every GraphQL answer
    too_large: set[str] = field(default_factory=set)  # full names whose contributors are too many


@dataclass
class Limits:
    points_per_window: Mapping[str, int]  # token -> points per window
    window_seconds: float = 3600.0
    rest_per_window: int = 5000
    max_concurrency: int = 100
    secondary_points_per_minute: int = 2000  # per token, GraphQL endpoint: 1 per query
    rate_limited_status: int = 200  # GitHub answers an exhausted GraphQL budget with this


@dataclass
class Budget:
    limit: int
    used: int = 0
    reset: float | None = None  # epoch second the window ends; None until first use

    def roll(self, now: float, window: float) -> None:
        if self.reset is None or now >= self.reset:
            self.used = 0
            self.reset = float(math.ceil(now + window))

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True)
class RequestRecord:
    at: float  # server clock
    token: str
    kind: Literal["graphql", "rest"]
    status: int
    cost: int = 0
    operation: str = ""
    variables: Mapping[str, Any] = field(default_factory=dict)
    path: str = ""


@dataclass(frozen=True)
class _Ref:
    repo: FakeRepo


@dataclass(frozen=True)
class _Commit:
    repo: FakeRepo


@dataclass(frozen=True)
class _Blob:
    size: int


class FakeGitHub:
    """The server's state; `start()` serves it on a free loopback port."""

    def __init__(
        self,
        fixture: Fixture,
        tokens: Mapping[str, str],
        limits: Limits,
        *,
        clock: Clock | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.fixture = fixture
        self.tokens = dict(tokens)  # secret -> label
        self.limits = limits
        self.clock = clock or SystemClock()
        self.faults = faults or Faults()
        self.lock = threading.RLock()
        self.graphql_budgets = {
            label: Budget(limits.points_per_window[label]) for label in self.tokens.values()
        }
        self.rest_budgets = {
            label: Budget(limits.rest_per_window) for label in self.tokens.values()
        }
        self.minute: dict[str, deque[float]] = {label: deque() for label in self.tokens.values()}
        self.requests: list[RequestRecord] = []
        self.in_flight = 0
        # Called with (operation, variables) before a GraphQL request is answered: a test's
        # way to change the world mid-run (e.g. a slice growing past the cap).
        self.before_graphql: Callable[[str, Mapping[str, Any]], None] | None = None
        self._search_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeGitHub:
        server = self

        class Handler(_Handler):
            github = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- observation ---------------------------------------------------------------------------
    def graphql_requests(self, operation: str | None = None) -> list[RequestRecord]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.kind == "graphql" and (operation is None or r.operation == operation)
            ]

    def points_used(self) -> int:
        with self.lock:
            return sum(r.cost for r in self.requests if r.kind == "graphql" and r.status == 200)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            per_token = {
                label: {
                    "graphql_points": sum(
                        r.cost for r in self.requests if r.token == label and r.status == 200
                    ),
                    "rest_requests": sum(
                        1 for r in self.requests if r.token == label and r.kind == "rest"
                    ),
                }
                for label in self.tokens.values()
            }
            return {
                "graphql_points": self.points_used(),
                "graphql_requests": sum(1 for r in self.requests if r.kind == "graphql"),
                "rest_requests": sum(1 for r in self.requests if r.kind == "rest"),
                "statuses": dict(
                    sorted(_count(str(r.status) for r in self.requests).items()),
                ),
                "tokens": per_token,
            }

    def matching(self, query: str) -> list[FakeRepo]:
        """Every repository a search query matches, without the cap (for assertions)."""
        return [self.fixture.repos[i] for i in self._search(query)]

    # -- search --------------------------------------------------------------------------------
    def _search(self, query: str) -> np.ndarray:
        with self.lock:
            cached = self._search_cache.get(query)
            if cached is not None:
                self._search_cache.move_to_end(query)
                return cached
        fx = self.fixture
        mask = np.ones(len(fx.repos), dtype=bool)
        include_forks, descending = "false", True
        for term in query.split():
            key, _, value = term.partition(":")
            if key == "stars":
                low, high = _range(value, int)
                mask &= (fx.stars >= low) & (fx.stars <= high)
            elif key == "created":
                low_t, high_t = _range(value, _timestamp_bounds)
                mask &= (fx.created >= low_t) & (fx.created <= high_t)
            elif key == "language":
                mask &= fx.language == value.lower()
            elif key == "fork":
                include_forks = value
            elif key == "sort":
                descending = value != "stars-asc"
            elif key == "is" and value == "public":
                continue
            else:
                raise FieldError("INVALID_SEARCH", f"unsupported search term {term!r}")
        if include_forks == "false":
            mask &= ~fx.is_fork
        elif include_forks == "only":
            mask &= fx.is_fork
        order = fx.order if descending else fx.order[::-1]
        result = order[mask[order]]
        with self.lock:
            self._search_cache[query] = result
            if len(self._search_cache) > 512:
                self._search_cache.popitem(last=False)
        return result

    def invalidate(self) -> None:
        """Call after changing the fixture."""
        with self.lock:
            self.fixture.reindex()
            self._search_cache.clear()

    def search(self, args: dict[str, Any]) -> dict[str, Any]:
        matches = self._search(args["query"])
        offset = _decode_cursor(args.get("after"))
        first = args.get("first") or 10
        visible = min(len(matches), SEARCH_CAP)
        window = matches[offset : min(offset + first, visible)]
        items = [self.fixture.repos[i] for i in window]
        end = offset + len(items)
        return {
            "repositoryCount": len(matches),
            "userCount": 0,
            "issueCount": 0,
            "pageInfo": {
                "hasNextPage": end < visible,
                "hasPreviousPage": offset > 0,
                "endCursor": _cursor(end) if items else None,
                "startCursor": _cursor(offset + 1) if items else None,
            },
            "nodes": items,
            "edges": [
                {"cursor": _cursor(offset + k + 1), "node": item} for k, item in enumerate(items)
            ],
        }

    def history(self, commit: _Commit, args: dict[str, Any]) -> int:
        repo = commit.repo
        if repo.node_id in self.faults.poison_ids:
            if self.faults.poison_mode == "timeout":
                raise QueryTimeoutError(repo.node_id)
            raise FieldError("SERVICE_UNAVAILABLE", TIMEOUT_MESSAGE)
        return repo.commits_last_year if args.get("since") else repo.commits_total

    def executor(self) -> Executor:
        return Executor(resolvers=self._resolvers(), typename_of=_typename)

    def _resolvers(self) -> dict[tuple[str, str], Any]:
        fx = self.fixture

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

        def readme(repo: FakeRepo, args: dict[str, Any]) -> _Blob | None:
            expression = args.get("expression") or ""
            name = expression.removeprefix("HEAD:")
            if repo.readme_name is not None and name == repo.readme_name:
                return _Blob(repo.readme_size)
            return None

        def nodes(_: object, args: dict[str, Any]) -> list[FakeRepo | Failure]:
            return [
                fx.by_id.get(i)
                or Failure("NOT_FOUND", f"Could not resolve to a node with the global id of '{i}'")
                for i in args["ids"]
            ]

        def repository(_: object, args: dict[str, Any]) -> FakeRepo | None:
            return fx.by_name.get(f"{args['owner']}/{args['name']}".lower())

        resolvers: dict[tuple[str, str], Any] = {
            ("Query", "search"): lambda _, args: self.search(args),
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
            ("Repository", "defaultBranchRef"): lambda r, _: None if r.empty else _Ref(r),
            ("Repository", "object"): readme,
            ("Ref", "id"): lambda ref, _: f"REF_{ref.repo.node_id}",
            ("Ref", "name"): lambda ref, _: "main",
            ("Ref", "prefix"): lambda ref, _: "refs/heads/",
            ("Ref", "target"): lambda ref, _: _Commit(ref.repo),
            ("Commit", "id"): lambda c, _: f"C_{c.repo.node_id}",
            ("Commit", "oid"): lambda c, _: "0" * 40,
            ("Commit", "history"): self.history,
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


def _typename(value: Any) -> str:
    if isinstance(value, FakeRepo):
        return "Repository"
    if isinstance(value, FakeOwner):
        return "Organization" if value.is_organization else "User"
    if isinstance(value, _Commit):
        return "Commit"
    if isinstance(value, _Blob):
        return "Blob"
    raise TypeError(f"no GraphQL type for {type(value).__name__}")


def _count(values: Iterator[str] | Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _cursor(position: int) -> str:
    return base64.b64encode(f"cursor:{position}".encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("cursor:"))
    except ValueError as error:
        raise FieldError("INVALID_CURSOR_ARGUMENTS", f"invalid cursor {cursor!r}") from error


def _timestamp_bounds(text: str, *, upper: bool = False) -> float:
    if "T" in text:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    day = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return (day + timedelta(days=1)).timestamp() - 1e-6 if upper else day.timestamp()


def _range(value: str, parse: Any) -> tuple[Any, Any]:
    """GitHub's range syntax: `a..b`, `>=a`, `>a`, `<=b`, `<b`, `a`, `a..*`, `*..b`."""
    low: Any = -math.inf
    high: Any = math.inf
    if ".." in value:
        left, right = value.split("..", 1)
        if left != "*":
            low = parse(left)
        if right != "*":
            high = parse(right, upper=True) if parse is _timestamp_bounds else parse(right)
        return low, high
    match = re.fullmatch(r"(>=|<=|>|<)?(.+)", value)
    assert match is not None
    operator, operand = match.groups()
    if parse is int:
        number = int(operand)
        return {
            ">=": (number, high),
            ">": (number + 1, high),
            "<=": (low, number),
            "<": (low, number - 1),
            None: (number, number),
        }[operator]
    start, end = parse(operand), parse(operand, upper=True)
    return {
        ">=": (start, high),
        ">": (end + 1e-6, high),
        "<=": (low, end),
        "<": (low, start - 1e-6),
        None: (start, end),
    }[operator]


class _Handler(BaseHTTPRequestHandler):
    github: FakeGitHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `FakeGitHub.requests` instead."""

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing ------------------------------------------------------------------------------
    def _send(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _token(self) -> str | None:
        header = self.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() not in {"bearer", "token"}:
            return None
        return self.github.tokens.get(secret.strip())

    def _rate_headers(self, budget: Budget, resource: str) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(budget.limit),
            "x-ratelimit-remaining": str(budget.remaining),
            "x-ratelimit-used": str(budget.used),
            "x-ratelimit-reset": str(int(budget.reset or 0)),
            "x-ratelimit-resource": resource,
        }

    def _record(self, record: RequestRecord) -> None:
        with self.github.lock:
            self.github.requests.append(record)

    # -- GraphQL -------------------------------------------------------------------------------
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if urlsplit(self.path).path != "/graphql":
            self._send(404, {"message": "Not Found"})
            return
        gh = self.github
        label = self._token()
        if label is None:
            self._send(401, {"message": "Bad credentials", "documentation_url": DOCS})
            return
        with gh.lock:
            gh.in_flight += 1
        try:
            self._graphql(label, raw)
        except Exception as error:  # a bug here must reach the test as an answer, not a hang
            self._send(500, {"message": f"fake server error: {error!r}"})
            raise
        finally:
            with gh.lock:
                gh.in_flight -= 1

    def _graphql(self, label: str, raw: bytes) -> None:
        gh = self.github
        now = gh.clock.time()
        try:
            request = json.loads(raw)
            text, variables = request["query"], request.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            self._send(400, {"message": "Problems parsing JSON", "documentation_url": DOCS})
            return
        with gh.lock:
            budget = gh.graphql_budgets[label]
            budget.roll(now, gh.limits.window_seconds)
            headers = self._rate_headers(budget, "graphql")
            minute = gh.minute[label]
            while minute and minute[0] <= now - 60:
                minute.popleft()
            secondary: int | Literal[False] | None = False
            if gh.faults.graphql_secondary:
                secondary = gh.faults.graphql_secondary.popleft()
            elif gh.in_flight > gh.limits.max_concurrency:
                secondary = 60
            elif len(minute) >= gh.limits.secondary_points_per_minute:
                secondary = math.ceil(minute[0] + 60 - now)
            status = gh.faults.graphql_statuses.popleft() if gh.faults.graphql_statuses else 200
            malformed = gh.faults.malformed > 0
            gh.faults.malformed -= 1 if malformed else 0
            latency = gh.faults.latency
            minute.append(now)
        operation = str(request.get("operationName") or _operation_name(text))
        record = RequestRecord(now, label, "graphql", 0, 0, operation, variables)
        if latency:
            time.sleep(latency)
        if gh.before_graphql is not None:
            gh.before_graphql(operation, variables)
        if secondary is not False:
            extra = {"Retry-After": str(secondary)} if secondary is not None else {}
            self._record(_with(record, status=403))
            self._send(403, {"message": SECONDARY_MESSAGE, "documentation_url": DOCS}, extra)
            return
        if status != 200:
            self._record(_with(record, status=status))
            body = {"data": None, "errors": [{"message": TIMEOUT_MESSAGE}]}
            self._send(status, body if status == 502 else b"<html>504 Gateway Time-out</html>")
            return
        if malformed:
            self._record(_with(record, status=200))
            self._send(200, b'{"data": {"search": {"repositoryCount": 12, "nodes": [')
            return
        try:
            compiled = compile_query(text, request.get("operationName"))
            cost = query_cost(compiled, variables)
        except QueryRejectedError as rejected:
            self._record(_with(record, status=200))
            self._send(200, {"errors": rejected.errors}, headers)
            return
        with gh.lock:
            budget.roll(gh.clock.time(), gh.limits.window_seconds)
            exhausted = budget.remaining < cost.points
            if not exhausted:
                budget.used += cost.points
            headers = self._rate_headers(budget, "graphql")
        if exhausted:
            self._record(_with(record, status=gh.limits.rate_limited_status))
            body = {
                "errors": [
                    {
                        "type": "RATE_LIMITED",
                        "code": "graphql_rate_limit",
                        "message": f"API rate limit already exceeded for user {label}.",
                    }
                ]
            }
            self._send(
                gh.limits.rate_limited_status, body, {**headers, "x-ratelimit-remaining": "0"}
            )
            return
        rate_limit = {
            "cost": cost.points,
            "limit": budget.limit,
            "nodeCount": cost.nodes,
            "remaining": budget.remaining,
            "resetAt": datetime.fromtimestamp(budget.reset or now, UTC),
            "used": budget.used,
        }
        executor = gh.executor()
        resolvers = dict(executor.resolvers)
        resolvers[("Query", "rateLimit")] = lambda _, __: rate_limit
        executor.resolvers = resolvers
        try:
            data = executor.run(compiled, variables, None)
        except QueryTimeoutError:
            with gh.lock:
                budget.used -= cost.points  # a query that times out is not charged
            self._record(_with(record, status=502))
            self._send(502, {"data": None, "errors": [{"message": TIMEOUT_MESSAGE}]}, headers)
            return
        self._record(_with(record, status=200, cost=cost.points))
        answer: dict[str, Any] = {"data": data}
        if executor.errors:
            answer["errors"] = executor.errors
        self._send(200, answer, headers)

    # -- REST ----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        gh = self.github
        url = urlsplit(self.path)
        if url.path == "/_fake/stats":
            self._send(200, gh.stats())
            return
        label = self._token()
        if label is None:
            self._send(401, {"message": "Bad credentials", "documentation_url": DOCS})
            return
        now = gh.clock.time()
        with gh.lock:
            budget = gh.rest_budgets[label]
            budget.roll(now, gh.limits.window_seconds)
            secondary = gh.faults.rest_secondary.popleft() if gh.faults.rest_secondary else False
            exhausted = budget.remaining < 1
            if not exhausted and secondary is False:
                budget.used += 1
            headers = self._rate_headers(budget, "core")
        record = RequestRecord(now, label, "rest", 200, path=url.path)
        if secondary is not False:
            extra = {"Retry-After": str(secondary)} if secondary is not None else {}
            self._record(_with(record, status=403))
            self._send(403, {"message": SECONDARY_MESSAGE, "documentation_url": DOCS}, extra)
            return
        if exhausted:
            self._record(_with(record, status=403))
            message = f"API rate limit exceeded for user {label}."
            self._send(403, {"message": message, "documentation_url": DOCS}, headers)
            return
        status, body, extra = self._rest(url.path, parse_qs(url.query))
        self._record(_with(record, status=status))
        self._send(status, body, {**headers, **extra})

    def _rest(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        fx = self.github.fixture
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
            if repo.full_name in self.github.faults.too_large:
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


def _with(record: RequestRecord, **changes: Any) -> RequestRecord:
    return RequestRecord(**{**record.__dict__, **changes})


def _operation_name(text: str) -> str:
    match = re.search(r"query\s+(\w+)", text)
    return match.group(1) if match else ""


def main(argv: list[str] | None = None) -> None:
    """Serve a generated fixture until SIGTERM; print `READY <url>` once listening."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-stars", type=int, default=10)
    parser.add_argument("--token", action="append", default=[], help="label=secret=points (repeat)")
    parser.add_argument("--window-seconds", type=float, default=3600.0)
    parser.add_argument("--rest-per-window", type=int, default=5000)
    parser.add_argument("--secondary-per-minute", type=int, default=2000)
    parser.add_argument("--origin", type=float, default=None, help="epoch of the scaled clock")
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    tokens, points = {}, {}
    for spec in args.token:
        label, secret, budget = spec.split("=")
        tokens[secret] = label
        points[label] = int(budget)
    clock: Clock = (
        ScaledClock(args.origin, args.time_scale) if args.origin is not None else SystemClock()
    )
    fixture = Fixture(generate(args.repos, seed=args.seed, min_stars=args.min_stars))
    limits = Limits(
        points_per_window=points,
        window_seconds=args.window_seconds,
        rest_per_window=args.rest_per_window,
        secondary_points_per_minute=args.secondary_per_minute,
    )
    server = FakeGitHub(fixture, tokens, limits, clock=clock).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"READY {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
