"""Generated repositories for the fake GitHub: several thousand, with GitHub's skew in stars.

Stars follow a discrete Pareto law above the threshold, as on GitHub: many repositories share the
lowest star counts (so one star value alone can hold more than the search cap, and the slicer must
split it by creation date) and a few have tens of thousands.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np

LANGUAGES: Final = ("Python", "JavaScript", "Go", "Rust", "TypeScript", "C", "Java", None)
LICENSES: Final = ("MIT", "Apache-2.0", "GPL-3.0", "BSD-3-Clause", "NOASSERTION", None)
README_CHOICES: Final = ("README.md", "README.md", "README.md", "README.rst", "readme.md", None)
EPOCH: Final = datetime(2009, 1, 1, tzinfo=UTC)
NOW: Final = datetime(2025, 6, 1, tzinfo=UTC)


@dataclass(slots=True)
class FakeOwner:
    login: str
    is_organization: bool
    followers: int
    repositories: int


@dataclass(slots=True)
class FakeRepo:
    node_id: str
    owner: FakeOwner
    name: str
    stars: int
    forks: int
    watchers: int
    created_at: datetime
    pushed_at: datetime | None
    disk_usage: int
    has_wiki: bool
    is_fork: bool
    is_archived: bool
    language: str | None
    license: str | None
    open_issues: int
    closed_issues: int
    open_pull_requests: int
    closed_pull_requests: int
    merged_pull_requests: int
    commits_total: int
    commits_last_year: int
    branches: int
    tags: int
    releases: int
    labels: int
    mentionable_users: int
    topics: int
    has_pages: bool
    readme_name: str | None
    readme_size: int
    contributors: int
    empty: bool = False  # no default branch

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


def node_id(index: int) -> str:
    """A global id shaped like GitHub's (`R_kgDO...`)."""
    return "R_kgDO" + base64.urlsafe_b64encode(index.to_bytes(6, "big")).decode().rstrip("=")


@dataclass
class Fixture:
    repos: list[FakeRepo]
    by_id: dict[str, FakeRepo] = field(init=False)
    by_name: dict[str, FakeRepo] = field(init=False)
    owners: dict[str, FakeOwner] = field(init=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        self.by_id = {r.node_id: r for r in self.repos}
        self.by_name = {r.full_name.lower(): r for r in self.repos}
        self.owners = {r.owner.login.lower(): r.owner for r in self.repos}
        self.stars = np.array([r.stars for r in self.repos], dtype=np.int64)
        self.created = np.array([r.created_at.timestamp() for r in self.repos], dtype=np.float64)
        self.is_fork = np.array([r.is_fork for r in self.repos], dtype=bool)
        self.language = np.array([(r.language or "").lower() for r in self.repos], dtype=object)
        # Search's default order here: stars descending, then id, so pages are stable.
        self.order = np.lexsort((np.arange(len(self.repos)), -self.stars))


def generate(
    count: int,
    *,
    seed: int = 7,
    min_stars: int = 10,
    pareto_alpha: float = 1.1,
    pareto_scale: float = 3.0,
    start_index: int = 0,
) -> list[FakeRepo]:
    rng = random.Random(seed)
    owners = [
        FakeOwner(
            login=f"{'org' if i % 4 == 0 else 'user'}{i}-{seed}",
            is_organization=i % 4 == 0,
            followers=0 if i % 4 == 0 else int(rng.paretovariate(1.0) * 5),
            repositories=rng.randint(1, 300),
        )
        for i in range(max(1, count // 3))
    ]
    span = (NOW - EPOCH).total_seconds()
    repos = []
    for index in range(start_index, start_index + count):
        stars = min_stars + int(pareto_scale * rng.paretovariate(pareto_alpha) - pareto_scale)
        created = EPOCH + timedelta(seconds=int(rng.random() * span))
        pushed = created + timedelta(seconds=int(rng.random() * (NOW - created).total_seconds()))
        empty = rng.random() < 0.01
        commits = 0 if empty else rng.randint(1, 5000)
        readme = rng.choice(README_CHOICES)
        repos.append(
            FakeRepo(
                node_id=node_id(index),
                owner=rng.choice(owners),
                name=f"repo-{index}",
                stars=stars,
                forks=int(stars * rng.random() * 0.3),
                watchers=max(1, stars // rng.randint(10, 40)),
                created_at=created,
                pushed_at=None if empty else pushed,
                disk_usage=rng.randint(1, 500_000),
                has_wiki=rng.random() < 0.7,
                is_fork=rng.random() < 0.05,
                is_archived=rng.random() < 0.08,
                language=rng.choice(LANGUAGES),
                license=rng.choice(LICENSES),
                open_issues=rng.randint(0, 200),
                closed_issues=rng.randint(0, 2000),
                open_pull_requests=rng.randint(0, 50),
                closed_pull_requests=rng.randint(0, 300),
                merged_pull_requests=rng.randint(0, 3000),
                commits_total=commits,
                commits_last_year=min(commits, rng.randint(0, 800)),
                branches=0 if empty else rng.randint(1, 60),
                tags=rng.randint(0, 100),
                releases=rng.randint(0, 80),
                labels=rng.randint(0, 40),
                mentionable_users=rng.randint(1, 300),
                topics=rng.randint(0, 20),
                has_pages=rng.random() < 0.15,
                readme_name=None if empty else readme,
                readme_size=rng.randint(10, 60_000),
                contributors=rng.randint(1, 400),
                empty=empty,
            )
        )
    return repos
