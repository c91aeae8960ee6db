"""A local HTTP server that speaks GitHub's wire format, for the extractor's tests and benchmark.

- `POST /graphql`: `search` (with GitHub's qualifiers and its 1,000-result cap), `nodes(ids:)`,
  `repository(owner:, name:)` (aliased, several per query), `rateLimit`, priced with GitHub's
  documented cost rules (see `github_graphql`), answered with `x-ratelimit-*` headers; `errors`
  carry GitHub's `type` (NOT_FOUND for an unknown id or name, RATE_LIMITED, ...).
- REST: `/repos/{owner}/{repo}` and its list endpoints (`contributors`, `pulls`, ...) with `Link`
  headers, `/repos/{owner}/{repo}/readme`, `/users/{login}`, on a separate 5,000-request budget.
- Primary limits per token and window, secondary limits (concurrency, points per minute) answered
  403 with `Retry-After`, and fault injection (`Faults`): 502/504, secondary limits, malformed
  bodies, latency, and "poison" repositories whose commit history fails.
- Time can be scaled (`ScaledClock`, `--time-scale`) to replay GitHub's hour in seconds.

Run it alone with `python -m tests.support.github_server --help` (the benchmark does).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Literal
from urllib.parse import parse_qs, urlsplit

from starcast.extraction.clock import Clock, ScaledClock, SystemClock
from tests.support.github_fixture import FakeRepo, Fixture, generate
from tests.support.github_graphql import (
    Executor,
    FieldError,
    QueryRejectedError,
    QueryTimeoutError,
    compile_query,
    query_cost,
)
from tests.support.github_resolvers import GitCommit, resolvers, typename_of
from tests.support.github_rest import DOCS, rest_answer
from tests.support.github_search import SearchIndex

SECONDARY_MESSAGE: Final = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
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
    secondary_status: int = 403  # GitHub answers a secondary limit with 403 or 429
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
        self.search = SearchIndex(fixture)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeGitHub:
        server = self

        class Handler(_Handler):
            github = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # A short poll: `stop()` waits up to one interval, and tests stop a server each.
        httpd = self._httpd
        self._thread = threading.Thread(
            target=lambda: httpd.serve_forever(poll_interval=0.05), daemon=True
        )
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
        return [self.fixture.repos[i] for i in self.search.matches(query)]

    def invalidate(self) -> None:
        """Call after changing the fixture."""
        self.search.invalidate()

    def history(self, commit: GitCommit, args: dict[str, Any]) -> int:
        repo = commit.repo
        if repo.node_id in self.faults.poison_ids:
            if self.faults.poison_mode == "timeout":
                raise QueryTimeoutError(repo.node_id)
            raise FieldError("SERVICE_UNAVAILABLE", TIMEOUT_MESSAGE)
        return repo.commits_last_year if args.get("since") else repo.commits_total

    def executor(self) -> Executor:
        return Executor(
            resolvers=resolvers(self.fixture, self.search.page, self.history),
            typename_of=typename_of,
        )


def _count(values: Iterator[str] | Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


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
        self._done()
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
        self._in_flight = True
        try:
            self._graphql(label, raw)
        except Exception as error:  # a bug here must reach the test as an answer, not a hang
            self._send(500, {"message": f"fake server error: {error!r}"})
            raise
        finally:
            self._done()

    def _done(self) -> None:
        """The request stops counting as in flight, once, before its answer leaves: a client
        may send its next request the moment it reads this one's answer."""
        if getattr(self, "_in_flight", False):
            self._in_flight = False
            with self.github.lock:
                self.github.in_flight -= 1

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
            status = gh.faults.secondary_status
            self._record(_with(record, status=status))
            self._send(status, {"message": SECONDARY_MESSAGE, "documentation_url": DOCS}, extra)
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
            status = gh.faults.secondary_status
            self._record(_with(record, status=status))
            self._send(status, {"message": SECONDARY_MESSAGE, "documentation_url": DOCS}, extra)
            return
        if exhausted:
            self._record(_with(record, status=403))
            message = f"API rate limit exceeded for user {label}."
            self._send(403, {"message": message, "documentation_url": DOCS}, headers)
            return
        answer = rest_answer(gh.fixture, gh.faults.too_large, url.path, parse_qs(url.query))
        status, body, extra = answer
        self._record(_with(record, status=status))
        self._send(status, body, {**headers, **extra})


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
