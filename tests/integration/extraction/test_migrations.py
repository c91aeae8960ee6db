"""Alembic migrations: an old database upgrades in place, on SQLite and on PostgreSQL.

"Old" is a database as the first extractor left it: its tables made by `create_all`, no
`alembic_version`, an unfinished run with checkpointed slices and a stored repository.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from starcast.extraction import migrate
from starcast.extraction.checkpoint import Checkpoint, Phase, PlannedRow
from starcast.extraction.repositories import metadata
from tests.integration.extraction.postgres import postgres_server
from tests.unit.extraction.test_records import record

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def connect(database_url: str) -> Iterator[Callable[[], Checkpoint]]:
    """Open the database as the extractor does (each call anew); all closed at the end."""
    opened: list[Checkpoint] = []

    def open_checkpoint() -> Checkpoint:
        opened.append(Checkpoint.connect(database_url))
        return opened[-1]

    yield open_checkpoint
    for checkpoint in opened:
        checkpoint.close()


def make_old_database(url: str) -> None:
    """The first extractor's database: revision 0001's tables, and no alembic_version."""
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(migrate.alembic_config(connection), migrate.BEFORE_MIGRATIONS)
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(
            text(
                "INSERT INTO extract_runs (spec_key, spec, phase, started_at) VALUES "
                "('done-key', '{}', 'done', :now), ('live-key', '{}', 'fetching', :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO extract_slices (run_id, position, query, expected, fetched, done,"
                " truncated) VALUES (1, 0, 'stars:>=10', 5, 5, true, false),"
                " (2, 0, 'stars:>=10', 5, 2, false, false)"
            )
        )
        row = {k: v for k, v in record().items() if k != "unknown_fields"}
        columns = ", ".join([*row, "first_seen_at", "run_id"])
        values = ", ".join([*(f":{k}" for k in row), ":first_seen_at", ":run_id"])
        connection.execute(
            text(f"INSERT INTO repositories ({columns}) VALUES ({values})"),
            {**row, "first_seen_at": NOW, "run_id": 1},
        )
    engine.dispose()


def test_an_old_database_upgrades_and_keeps_its_repositories(
    database_url: str, connect: Callable[[], Checkpoint]
) -> None:
    make_old_database(database_url)

    checkpoint = connect()

    assert "bounds" in {c["name"] for c in inspect(checkpoint.engine).get_columns("extract_slices")}
    with checkpoint.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == migrate.SLICE_BOUNDS
    [stored] = [r for batch in checkpoint.repositories.iter_records() for r in batch]
    assert stored["full_name"] == record()["full_name"]
    assert stored["snapshot_at"] == record()["snapshot_at"]
    # The unfinished run had no slice bounds to resume with: abandoned, replanned next time.
    assert {r.spec_key: r.phase for r in checkpoint.runs()} == {
        "done-key": Phase.DONE,
        "live-key": Phase.ABANDONED,
    }
    assert checkpoint.unfinished_run("live-key") is None
    assert [s.position for s in checkpoint.slices(2)] == []
    # And it works as a current database: a new run plans slices with bounds.
    run = checkpoint.create_run("live-key", "{}", NOW)
    checkpoint.save_plan(run.run_id, [PlannedRow("stars:>=10", '{"stars_min": 10}', 5, False)])
    assert [s.bounds for s in checkpoint.slices(run.run_id)] == ['{"stars_min": 10}']


def test_the_head_revision_is_the_tables_schema(connect: Callable[[], Checkpoint]) -> None:
    checkpoint = connect()
    with checkpoint.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_a_versioned_database_is_left_as_it_is(connect: Callable[[], Checkpoint]) -> None:
    first = connect()
    first.create_run("key", "{}", NOW)
    again = connect()
    assert [r.spec_key for r in again.runs()] == ["key"]
