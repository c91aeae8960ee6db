"""A pool of GitHub tokens and what each has left, per rate-limit resource.

A request leases points from the token with the most left; when no token has enough, the pool
waits until the earliest reset. A secondary limit pauses the whole pool (GitHub may apply it per
user or per address, so another token is no way around it). Tokens are known by their label
("token 2") everywhere outside the Authorization header: never printed, logged or stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from pydantic import SecretStr

from starcast.extraction.clock import Clock
from starcast.extraction.settings import TokenError

logger = logging.getLogger(__name__)

DEFAULT_LIMIT: Final = 5000  # GitHub's documented hourly budget for a user token, both APIs
MIN_RESET_WAIT: Final = 1.0  # a reset already past when we're told we're out: wait this much
IN_FLIGHT_POLL: Final = 0.05  # seconds between looks while only requests in flight hold points


class Resource(StrEnum):
    GRAPHQL = "graphql"
    REST = "core"


@dataclass
class Budget:
    limit: int = DEFAULT_LIMIT
    remaining: int = DEFAULT_LIMIT
    reset_at: float | None = None  # epoch seconds
    reserved: int = 0  # leased to requests in flight

    @property
    def available(self) -> int:
        return self.remaining - self.reserved


@dataclass(eq=False)
class Token:
    label: str
    secret: SecretStr = field(repr=False)
    budgets: dict[Resource, Budget] = field(default_factory=lambda: {r: Budget() for r in Resource})
    disabled: str | None = None

    def authorization(self) -> str:
        return f"bearer {self.secret.get_secret_value()}"


@dataclass(frozen=True)
class Lease:
    token: Token
    resource: Resource
    points: int


@dataclass(frozen=True)
class BudgetView:
    """What the progress display shows: no secret in it."""

    label: str
    remaining: int
    limit: int
    reset_at: datetime | None


class TokenPool:
    def __init__(self, secrets: list[SecretStr], clock: Clock, reset_margin: float = 1.0) -> None:
        if not secrets:
            raise TokenError("the token pool needs at least one token")
        self.tokens = [Token(f"token {i + 1}", s) for i, s in enumerate(secrets)]
        self.clock = clock
        self.reset_margin = reset_margin
        self.paused_until = 0.0
        self.waits = 0  # times the pool waited for a reset

    async def acquire(self, resource: Resource, desired: int, minimum: int | None = None) -> Lease:
        """Lease up to `desired` points (at least `minimum`) from the token with the most left."""
        floor = desired if minimum is None else minimum
        while True:
            await self._wait_pause()
            now = self.clock.time()
            enabled = [t for t in self.tokens if t.disabled is None]
            if not enabled:
                reasons = "; ".join(f"{t.label}: {t.disabled}" for t in self.tokens)
                raise TokenError(f"no usable GitHub token left ({reasons})")
            for token in enabled:
                budget = token.budgets[resource]
                if budget.reset_at is not None and now >= budget.reset_at:
                    budget.remaining, budget.reset_at = budget.limit, None
            if floor > max(t.budgets[resource].limit for t in enabled):
                raise ValueError(f"a {floor}-point request exceeds every token's budget")
            best = max(enabled, key=lambda t: t.budgets[resource].available)
            budget = best.budgets[resource]
            if budget.available >= floor:
                points = min(desired, budget.available)
                budget.reserved += points
                return Lease(best, resource, points)
            resets = [reset for t in enabled if (reset := t.budgets[resource].reset_at) is not None]
            if not resets:
                # Only requests in flight hold the points: their answers will say what is left.
                await self.clock.sleep(IN_FLIGHT_POLL)
                continue
            wake = min(resets)
            self.waits += 1
            logger.info(
                "%s budget spent on all %d tokens; waiting until %s",
                resource.value,
                len(enabled),
                datetime.fromtimestamp(wake, UTC).strftime("%H:%M:%S UTC"),
            )
            await self.clock.sleep(max(0.0, wake - now) + self.reset_margin)

    def settle(
        self,
        lease: Lease,
        *,
        remaining: int | None,
        reset_at: float | None,
        limit: int | None = None,
    ) -> None:
        """A response came back: replace our estimate with what GitHub says is left."""
        budget = lease.token.budgets[lease.resource]
        budget.reserved -= lease.points
        if limit is not None and limit > 0:
            budget.limit = limit
        if remaining is not None:
            budget.remaining = remaining
        if reset_at is not None:
            budget.reset_at = reset_at

    def release(self, lease: Lease) -> None:
        """The request never reached GitHub's accounting: give the points back."""
        lease.token.budgets[lease.resource].reserved -= lease.points

    def exhausted(self, lease: Lease, reset_at: float | None) -> None:
        """GitHub refused the request for this token's primary limit."""
        budget = lease.token.budgets[lease.resource]
        budget.reserved -= lease.points
        now = self.clock.time()
        budget.remaining = 0
        budget.reset_at = max(reset_at or 0.0, now + MIN_RESET_WAIT)
        logger.info(
            "%s: %s budget spent; next reset %s",
            lease.token.label,
            lease.resource.value,
            datetime.fromtimestamp(budget.reset_at, UTC).strftime("%H:%M:%S UTC"),
        )

    def disable(self, token: Token, reason: str) -> None:
        token.disabled = reason
        logger.error("%s disabled: %s", token.label, reason)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock.time() + seconds)

    async def _wait_pause(self) -> None:
        while (delay := self.paused_until - self.clock.time()) > 0:
            await self.clock.sleep(delay)

    def view(self, resource: Resource = Resource.GRAPHQL) -> list[BudgetView]:
        return [
            BudgetView(
                t.label,
                t.budgets[resource].remaining,
                t.budgets[resource].limit,
                datetime.fromtimestamp(reset, UTC)
                if (reset := t.budgets[resource].reset_at) is not None
                else None,
            )
            for t in self.tokens
            if t.disabled is None
        ]
