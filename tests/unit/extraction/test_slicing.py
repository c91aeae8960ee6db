"""Adaptive slicing: every split is a partition, and the plan covers the space exactly."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from starcast.extraction.slicing import SearchSlice, plan, split

START = datetime(2010, 1, 1, tzinfo=UTC)
END = datetime(2020, 1, 1, tzinfo=UTC)


def synthetic(count: int) -> list[tuple[int, datetime]]:
    rng = random.Random(3)
    return [
        (
            10 + int(3 * rng.paretovariate(1.1) - 3),
            START + timedelta(seconds=rng.randrange(3 * 10**8)),
        )
        for _ in range(count)
    ]


def members(piece: SearchSlice, repos: Sequence[tuple[int, datetime]]) -> list[int]:
    high = piece.stars_max if piece.stars_max is not None else 10**12
    return [
        i
        for i, (stars, created) in enumerate(repos)
        if piece.stars_min <= stars <= high and piece.created_from <= created <= piece.created_to
    ]


def test_star_split_is_a_partition_on_a_log_scale() -> None:
    root = SearchSlice(10, 100_000, START, END)
    parts = split(root, 10_000)
    assert parts[0].stars_min == 10 and parts[-1].stars_max == 100_000
    for left, right in itertools.pairwise(parts):
        assert left.stars_max is not None and left.stars_max + 1 == right.stars_min
    widths = [p.stars_max - p.stars_min for p in parts if p.stars_max is not None]
    assert widths[0] < widths[-1]


def test_a_single_star_value_splits_by_creation_time_down_to_the_second() -> None:
    root = SearchSlice(10, 10, START, START + timedelta(seconds=1))
    parts = split(root, 5000)
    assert [(p.created_from, p.created_to) for p in parts] == [
        (START, START),
        (START + timedelta(seconds=1), START + timedelta(seconds=1)),
    ]
    assert split(parts[0], 5000) == []


def parse(query: str) -> SearchSlice:
    """Back from the search text to the slice (the slicer's queries are all of one shape)."""
    match = re.fullmatch(r"stars:(\d+)\.\.(\d+) created:(\S+)\.\.(\S+) fork:true", query)
    assert match is not None, query
    low, high, start, end = match.groups()
    return SearchSlice(
        int(low), int(high), datetime.fromisoformat(start), datetime.fromisoformat(end)
    )


def test_plan_covers_every_repository_once_with_slices_under_the_cap() -> None:
    repos = synthetic(20_000)
    probes: list[int] = []

    async def count(queries: Sequence[str]) -> list[int]:
        probes.append(len(queries))
        return [len(members(parse(q), repos)) for q in queries]

    top = max(stars for stars, _ in repos)
    planned = asyncio.run(plan([SearchSlice(10, None, START, END)], count, top))

    covered = [i for p in planned for i in members(p.slice, repos)]
    assert sorted(covered) == list(range(len(repos)))
    assert all(p.count == len(members(p.slice, repos)) <= 1000 for p in planned)
    assert all(n <= 100 for n in probes)
    # Merged back: few slices, so the pages fetched stay close to the minimum.
    assert len(planned) <= len(repos) / 1000 * 2
