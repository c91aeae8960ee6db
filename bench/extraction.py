"""Extraction against GitHub's rate limits: starcast's GraphQL design next to the REST seed design.

Both run in this process against the fake GitHub of tests/support/github_server.py (its own
process), which charges GraphQL queries by GitHub's documented rules (the connection requests a
query implies, one per parent for each nested connection, / 100, rounded, at least 1), gives each
token 5,000 points an hour and REST 5,000 requests an hour, and applies secondary limits.

- starcast: `starcast.extraction` collects repositories above a star threshold from a fixture
  larger than a token-hour can hold, until every token's hour of budget is spent. The same hour
  on real GitHub: the figures are points, not seconds, so nothing is time-scaled.
- seed: the original design, REST calls per repository, one per field group (the repository,
  closed issues, open and closed pull requests, commits and last year's commits, branches, tags,
  releases, labels, assignees, readme, owner), on a sample, each request counted by the server.

Figures: repositories per point; points spent over the minimum for the same fields (full pages
of 100, only the connections needed, totalCounts only). That minimum, like every point charged
here, comes from the project's model of GitHub's documented cost rule (starcast.extraction.queries
and the fake server implement it), not from GitHub's own accounting: it measures how close the
queries come to the rule, not what real GitHub would bill. Then repositories per token-hour
against the theoretical maximum (budget efficiency); and repositories per token-hour against the
seed's (5,000 REST requests an hour / requests per repository). Contributors, REST in both
designs, are left out of both.

    python -m bench.extraction [--quick]

Last line: `extraction: repos_per_point=... points_over_minimum_pct=... budget_efficiency_pct=...
speedup_vs_seed=...`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import SecretStr

from starcast.extraction import queries
from starcast.extraction.checkpoint import Checkpoint
from starcast.extraction.clock import SystemClock
from starcast.extraction.graphql import GitHubClient
from starcast.extraction.progress import QuietProgress
from starcast.extraction.repositories import RepositoryTable
from starcast.extraction.run import Extraction
from starcast.extraction.settings import GitHubSettings
from starcast.extraction.spec import RunSpec
from starcast.extraction.tokens import Resource, TokenPool

HOURLY_POINTS: Final = 5000
HOURLY_REST: Final = 5000
MIN_STARS: Final = 10


@dataclass(frozen=True)
class Scale:
    tokens: int
    repositories: int
    seed_sample: int


QUICK: Final = Scale(tokens=1, repositories=34_000, seed_sample=150)
FULL: Final = Scale(tokens=2, repositories=66_000, seed_sample=300)  # 13 x 300 < 5,000


@contextlib.contextmanager
def fake_github(scale: Scale, secrets: list[str]) -> Iterator[str]:
    root = Path(__file__).resolve().parents[1]
    argv = [
        sys.executable,
        "-m",
        "tests.support.github_server",
        "--repos",
        str(scale.repositories),
        "--min-stars",
        str(MIN_STARS),
        *(f"--token=bench{i}={s}={HOURLY_POINTS}" for i, s in enumerate(secrets)),
        f"--rest-per-window={HOURLY_REST}",
    ]
    server = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the fake GitHub did not start: {line!r}")
        yield line.split()[1]
    finally:
        server.terminate()
        server.wait(timeout=30)


async def spend_one_hour(url: str, secrets: list[str], db: str) -> tuple[int, float]:
    """Extract until every token's hour of GraphQL budget is spent; (stored, seconds)."""
    settings = GitHubSettings(api_url=url, tokens=SecretStr(" ".join(secrets)))
    clock = SystemClock()
    pool = TokenPool(settings.load_tokens(), clock, settings.reset_margin_seconds)
    checkpoint = Checkpoint.connect(db)
    started = time.perf_counter()
    async with GitHubClient(settings, pool, clock) as client:
        extraction = Extraction(RunSpec(min_stars=MIN_STARS), checkpoint, client, QuietProgress())
        run = asyncio.create_task(extraction.run())
        while not run.done():
            await asyncio.sleep(0.1)
            spent = pool.waits > 0  # every token is out and the pool waits for the reset
            settled = all(t.budgets[Resource.GRAPHQL].reserved == 0 for t in pool.tokens)
            if spent and settled:
                run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
    return checkpoint.repositories.count(), time.perf_counter() - started


def seed_design(url: str, secret: str, names: list[str]) -> int:
    """The seed's REST calls for each repository; the requests the server counted."""
    since = (datetime.now(UTC) - timedelta(days=365)).isoformat()
    headers = {"Authorization": f"bearer {secret}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        before = client.get("/_fake/stats").json()["rest_requests"]
        for name in names:
            owner = client.get(f"/repos/{name}").json()["owner"]["login"]
            listings: list[tuple[str, dict[str, Any]]] = [
                ("issues", {"state": "closed"}),
                ("pulls", {"state": "open"}),
                ("pulls", {"state": "closed"}),
                ("commits", {}),
                ("commits", {"since": since}),
                ("branches", {}),
                ("tags", {}),
                ("releases", {}),
                ("labels", {}),
                ("assignees", {}),
            ]
            for resource, params in listings:
                response = client.get(f"/repos/{name}/{resource}", params={**params, "per_page": 1})
                response.raise_for_status()
            client.get(f"/repos/{name}/readme")
            client.get(f"/users/{owner}").raise_for_status()
        after = client.get("/_fake/stats").json()["rest_requests"]
        return int(after) - int(before)


def theoretical_per_hour() -> int:
    """The most repositories one token-hour can fetch under the documented formula."""
    low, high = 0, HOURLY_POINTS * 100
    while low < high:
        middle = (low + high + 1) // 2
        if queries.minimum_points(middle) <= HOURLY_POINTS:
            low = middle
        else:
            high = middle - 1
    return low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one token, about a minute")
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    secrets = [f"ghp_bench{i}{'x' * 8}{i}" for i in range(scale.tokens)]
    with tempfile.TemporaryDirectory() as tmp, fake_github(scale, secrets) as url:
        db = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        stored, seconds = asyncio.run(spend_one_hour(url, secrets, db))
        stats = httpx.get(f"{url}/_fake/stats").json()
        points = int(stats["graphql_points"])
        names = [r["full_name"] for b in RepositoryTable.connect(db).iter_records() for r in b]
        seed_requests = seed_design(url, secrets[0], names[: scale.seed_sample])

    minimum = queries.minimum_points(stored)
    budget = HOURLY_POINTS * scale.tokens
    per_token_hour = stored / scale.tokens
    theoretical = theoretical_per_hour()
    seed_per_repo = seed_requests / scale.seed_sample
    seed_per_hour = HOURLY_REST / seed_per_repo
    print(f"fixture: {scale.repositories} repositories, {scale.tokens} token(s)")
    print(
        f"starcast: {stored} repositories for {points} points of {budget} "
        f"({stats['graphql_requests']} queries, statuses {stats['statuses']}) in {seconds:.1f} s"
    )
    print(
        f"minimum for those repositories and fields: {minimum} points, by the project's model of "
        "GitHub's documented cost rule (points here are that model's, not GitHub's accounting)"
    )
    print(f"per token-hour: {per_token_hour:.0f} repositories; theoretical maximum {theoretical}")
    print(
        f"seed: {seed_per_repo:.1f} REST requests per repository -> {seed_per_hour:.0f} "
        "repositories per token-hour"
    )
    print(
        f"extraction: repos_per_point={stored / points:.3f} "
        f"points_over_minimum_pct={(points - minimum) / minimum * 100:.2f} "
        f"budget_efficiency_pct={per_token_hour / theoretical * 100:.1f} "
        f"speedup_vs_seed={per_token_hour / seed_per_hour:.1f}"
    )


if __name__ == "__main__":
    main()
