"""A run killed mid-way (SIGKILL, a real subprocess) resumes with nothing lost or duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from starcast.extraction.checkpoint import Checkpoint
from tests.integration.extraction.conftest import SECRETS, GitHubFactory, stored_ids
from tests.support.github_server import Faults

pytestmark = [pytest.mark.integration, pytest.mark.slow]


STARCAST = str(Path(sys.executable).with_name("starcast"))


def extract_command(db: Path, server_url: str) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "STARCAST_GITHUB_API_URL": server_url,
        "STARCAST_GITHUB_TOKEN": SECRETS["alpha"],
        "STARCAST_GITHUB_BACKOFF_SECONDS": "0.01",
        "STARCAST_LOG_LEVEL": "INFO",
    }
    return [STARCAST, "extract", "run", "--db", f"sqlite:///{db}", "--min-stars", "10"], env


def stored_count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM repositories").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_resume_after_sigkill_loses_and_duplicates_nothing(
    github: GitHubFactory, tmp_path: Path
) -> None:
    server = github(faults=Faults(latency=0.05))
    expected = {r.node_id for r in server.matching("stars:>=10 fork:true")}
    db = tmp_path / "extract.sqlite"
    argv, env = extract_command(db, server.url)

    with subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as first:  # closes its pipe
        deadline = time.monotonic() + 120
        while stored_count(db) < 1000:
            assert first.poll() is None, first.stdout.read().decode() if first.stdout else ""
            assert time.monotonic() < deadline, "the first run stored nothing in two minutes"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    killed_at = stored_count(db)
    assert 1000 <= killed_at < len(expected)
    pages_before = len(server.graphql_requests("SearchPage"))

    server.faults.latency = 0.0
    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)

    assert second.returncode == 0, second.stderr
    assert "resumed run 1" in second.stdout
    with Checkpoint.connect(f"sqlite:///{db}") as checkpoint:
        ids = stored_ids(checkpoint)
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    # Resuming neither re-planned nor re-fetched committed pages: at most the pages that
    # were in flight at the kill (one per concurrent slice) were asked again.
    probes = server.graphql_requests("CountProbe")
    assert all(r.at < server.graphql_requests("SearchPage")[pages_before].at for r in probes)
    pages = len(server.graphql_requests("SearchPage"))
    with Checkpoint.connect(f"sqlite:///{db}") as checkpoint:
        needed = sum(-(-s.expected // 100) for s in checkpoint.slices(1))
    assert pages <= needed + 2
