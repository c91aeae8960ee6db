"""GitHub's repository search over the fixture: qualifiers, order, cursors and the 1,000 cap.

Supported qualifiers: `stars:` and `created:` with GitHub's range syntax (`a..b`, `>=a`, `<b`,
`a..*`, dates or ISO times), `language:`, `fork:true|only` (forks are left out otherwise),
`sort:stars-desc|stars-asc` and `is:public`. Results are ordered by stars, then creation order.
"""

from __future__ import annotations

import base64
import math
import re
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np

from tests.support.github_fixture import Fixture
from tests.support.github_graphql import FieldError

SEARCH_CAP: Final = 1000


class SearchIndex:
    def __init__(self, fixture: Fixture) -> None:
        self.fixture = fixture
        self.lock = threading.RLock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def matches(self, query: str) -> np.ndarray:
        with self.lock:
            cached = self._cache.get(query)
            if cached is not None:
                self._cache.move_to_end(query)
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
            self._cache[query] = result
            if len(self._cache) > 512:
                self._cache.popitem(last=False)
        return result

    def invalidate(self) -> None:
        """Call after changing the fixture."""
        with self.lock:
            self.fixture.reindex()
            self._cache.clear()

    def page(self, args: dict[str, Any]) -> dict[str, Any]:
        matches = self.matches(args["query"])
        offset = decode_cursor(args.get("after"))
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
                "endCursor": cursor(end) if items else None,
                "startCursor": cursor(offset + 1) if items else None,
            },
            "nodes": items,
            "edges": [
                {"cursor": cursor(offset + k + 1), "node": item} for k, item in enumerate(items)
            ],
        }


def cursor(position: int) -> str:
    return base64.b64encode(f"cursor:{position}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
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
