"""Cutting the search space into slices GitHub's search can return whole (at most 1,000 results).

Slices are bisected adaptively from the counts GitHub reports: star ranges first, on a log scale
(stars are heavy-tailed, so equal ranges would put nearly everything in the first), then creation
windows once a single star value holds more than the cap. Every split is a partition, so no
repository is missed or counted twice; adjacent small slices are merged back so that fewer,
fuller pages are fetched. Counting is injected (`CountFn`): the pipeline batches it into probes
of up to 100 searches a query.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from starcast.extraction.queries import SEARCH_RESULT_CAP

logger = logging.getLogger(__name__)

GITHUB_EPOCH: Final = datetime(2007, 10, 1, tzinfo=UTC)  # before the first public repository
MAX_PARTS: Final = 16  # children per split: more rounds cost time, more children cost probes
SECOND: Final = timedelta(seconds=1)

CountFn = Callable[[Sequence[str]], Awaitable[list[int]]]


def language_slug(language: str) -> str:
    """GitHub's search accepts a language's name with spaces as dashes (`jupyter-notebook`)."""
    return re.sub(r"\s+", "-", language.strip().lower())


@dataclass(frozen=True)
class SearchSlice:
    """Repositories with stars in [stars_min, stars_max] created in [created_from, created_to]."""

    stars_min: int
    stars_max: int | None  # None: no upper bound yet
    created_from: datetime
    created_to: datetime
    language: str | None = None
    forks: bool = True

    def query(self) -> str:
        stars = (
            f"stars:>={self.stars_min}"
            if self.stars_max is None
            else f"stars:{self.stars_min}..{self.stars_max}"
        )
        parts = [stars, f"created:{_iso(self.created_from)}..{_iso(self.created_to)}"]
        if self.language is not None:
            parts.append(f"language:{language_slug(self.language)}")
        if self.forks:
            parts.append("fork:true")  # search leaves forks out unless asked
        return " ".join(parts)

    def to_json(self) -> str:
        return json.dumps(
            {
                "stars_min": self.stars_min,
                "stars_max": self.stars_max,
                "created_from": self.created_from.isoformat(),
                "created_to": self.created_to.isoformat(),
                "language": self.language,
                "forks": self.forks,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> SearchSlice:
        raw = json.loads(text)
        return cls(
            stars_min=int(raw["stars_min"]),
            stars_max=None if raw["stars_max"] is None else int(raw["stars_max"]),
            created_from=datetime.fromisoformat(raw["created_from"]),
            created_to=datetime.fromisoformat(raw["created_to"]),
            language=raw["language"],
            forks=bool(raw["forks"]),
        )

    def top_query(self) -> str:
        """The same search sorted by stars, to learn the highest star count in it."""
        return f"{self.query()} sort:stars-desc"


@dataclass(frozen=True)
class PlannedSlice:
    slice: SearchSlice
    count: int

    @property
    def truncated(self) -> bool:
        """Still over the cap after every possible split: only the first 1,000 are reachable."""
        return self.count > SEARCH_RESULT_CAP


def split(piece: SearchSlice, count: int, cap: int = SEARCH_RESULT_CAP) -> list[SearchSlice]:
    """A partition of `piece` into parts that should each hold fewer than `cap`; [] if atomic."""
    parts = min(MAX_PARTS, max(2, math.ceil(count * 1.25 / cap)))
    if piece.stars_max is None:
        raise ValueError("bound the star range (top probe) before splitting it")
    if piece.stars_min < piece.stars_max:
        low, high = math.log1p(piece.stars_min), math.log1p(piece.stars_max + 1)
        bounds = sorted(
            {piece.stars_min}
            | {round(math.expm1(low + (high - low) * i / parts)) for i in range(1, parts)}
        )
        bounds = [b for b in bounds if piece.stars_min <= b <= piece.stars_max]
        edges = [*bounds, piece.stars_max + 1]
        return [
            replace(piece, stars_min=lo, stars_max=hi - 1) for lo, hi in itertools.pairwise(edges)
        ]
    seconds = int((piece.created_to - piece.created_from).total_seconds()) + 1
    if seconds < 2:
        return []
    parts = min(parts, seconds)
    cuts = [piece.created_from + timedelta(seconds=seconds * i // parts) for i in range(parts)]
    ends = [*cuts[1:], piece.created_to + SECOND]
    return [
        replace(piece, created_from=start, created_to=end - SECOND)
        for start, end in zip(cuts, ends, strict=True)
    ]


async def plan(
    roots: Sequence[SearchSlice],
    count: CountFn,
    max_stars: int | None,
    cap: int = SEARCH_RESULT_CAP,
) -> list[PlannedSlice]:
    """Slices that together hold exactly what `roots` hold, each (when possible) within `cap`.

    `max_stars` bounds open star ranges (the highest star count the roots can reach).
    """
    bounded = [
        replace(r, stars_max=max_stars if max_stars is not None else r.stars_min)
        if r.stars_max is None
        else r
        for r in roots
    ]
    items = list(zip(bounded, await count([r.query() for r in bounded]), strict=True))
    rounds = 0
    while True:
        splits = {i: split(s, c, cap) for i, (s, c) in enumerate(items) if c > cap}
        splits = {i: children for i, children in splits.items() if children}
        if not splits:
            break
        rounds += 1
        children = [child for group in splits.values() for child in group]
        counts = iter(await count([c.query() for c in children]))
        refined: list[tuple[SearchSlice, int]] = []
        for i, item in enumerate(items):
            if i in splits:
                refined.extend((child, next(counts)) for child in splits[i])
            else:
                refined.append(item)
        items = refined
    planned = [PlannedSlice(s, c) for s, c in _merge(items, cap) if c > 0]
    for piece in planned:
        if piece.truncated:
            logger.warning(
                "slice %r holds %d repositories and can't be split further: only the first "
                "%d are reachable through search",
                piece.slice.query(),
                piece.count,
                cap,
            )
    logger.info(
        "planned %d slices holding %d repositories in %d rounds of probes",
        len(planned),
        sum(p.count for p in planned),
        rounds,
    )
    return planned


def _merge(items: list[tuple[SearchSlice, int]], cap: int) -> list[tuple[SearchSlice, int]]:
    """Join neighbours whose union is still one range and within the cap."""
    merged: list[tuple[SearchSlice, int]] = []
    for piece, count in items:
        if merged:
            last, last_count = merged[-1]
            union = _union(last, piece)
            if union is not None and last_count + count <= cap:
                merged[-1] = (union, last_count + count)
                continue
        merged.append((piece, count))
    return merged


def _union(a: SearchSlice, b: SearchSlice) -> SearchSlice | None:
    if (a.language, a.forks) != (b.language, b.forks) or a.stars_max is None:
        return None
    same_window = (a.created_from, a.created_to) == (b.created_from, b.created_to)
    if same_window and a.stars_max + 1 == b.stars_min:
        return replace(a, stars_max=b.stars_max)
    same_stars = (a.stars_min, a.stars_max) == (b.stars_min, b.stars_max)
    if same_stars and a.created_to + SECOND == b.created_from:
        return replace(a, created_to=b.created_to)
    return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
