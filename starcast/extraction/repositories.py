"""The repository table: every extracted repository, in any SQLAlchemy database.

Repositories are upserted by GitHub node id with the time they were fetched, so a later run adds
and refreshes rows instead of replacing the table. SQLite (the default, in WAL mode) and
PostgreSQL use native upserts; other dialects fall back to update-then-insert. The run that
fetches them keeps its checkpoint beside this table (`checkpoint.py`) and writes both in one
transaction. The schema is Alembic's (`migrate.py`): opening the table upgrades an older database
in place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from starcast.extraction import migrate
from starcast.extraction.records import StoredRecord
from starcast.features import FEATURES_BY_NAME, RECORD_COLUMNS, FeatureKind, RepositoryRecord

logger = logging.getLogger(__name__)


def _record_column(name: str) -> Column[Any]:
    if name == "node_id":
        return Column(name, String(64), primary_key=True)
    if name == "full_name":
        return Column(name, String(300), nullable=False, index=True)
    if name in {"snapshot_at", "created_at", "pushed_at"}:
        return Column(name, DateTime(timezone=True), nullable=name == "pushed_at")
    if name == "stars":
        return Column(name, Integer, nullable=False)
    kind = FEATURES_BY_NAME[name].kind
    if kind == FeatureKind.BOOLEAN:
        return Column(name, Boolean)
    if kind == FeatureKind.CATEGORICAL:
        return Column(name, String(100))
    return Column(name, BigInteger)


# The database's one schema: this table, and the checkpoint's tables (checkpoint.py adds them).
metadata = MetaData()
repositories = Table(
    "repositories",
    metadata,
    *(_record_column(name) for name in RECORD_COLUMNS),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("unknown_fields", Text, doc="fields GitHub failed to resolve, comma-separated"),
    Column("contributors_status", String(20), doc="ok, too_large or not_found"),
    Column("contributors_at", DateTime(timezone=True)),
)

# Columns a refresh replaces; first_seen_at and the REST contributors columns are kept.
_REFRESHED: Final = (*(c for c in RECORD_COLUMNS if c not in {"node_id", "contributors"}),)


def open_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL: `extract status` can read while a run writes; NORMAL is durable across a
            # killed process (only a power cut can lose the last transactions).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    migrate.upgrade(engine)
    return engine


class RepositoryTable:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, url: str) -> RepositoryTable:
        return cls(open_engine(url))

    def close(self) -> None:
        """Close the database's pooled connections (a server's, for PostgreSQL)."""
        self.engine.dispose()

    def __enter__(self) -> RepositoryTable:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------
    def upsert(
        self, conn: Connection, run_id: int, records: Sequence[StoredRecord], now: datetime
    ) -> None:
        """Add or refresh `records` inside the caller's transaction (the checkpoint's page)."""
        if not records:
            return
        rows = [
            {
                **{k: stored_time(v) if isinstance(v, datetime) else v for k, v in r.items()},
                "run_id": run_id,
                "first_seen_at": stored_time(now),
            }
            for r in records
        ]
        refreshed = [*_REFRESHED, "run_id", "unknown_fields"]
        dialect = conn.dialect.name
        if dialect in {"sqlite", "postgresql"}:
            module: Any = sqlite if dialect == "sqlite" else postgresql
            statement = module.insert(repositories)
            statement = statement.on_conflict_do_update(
                index_elements=[repositories.c.node_id],
                set_={name: statement.excluded[name] for name in refreshed},
            )
            conn.execute(statement, rows)
            return
        for row in rows:  # portable fallback, still inside the page's transaction
            changed = conn.execute(
                update(repositories)
                .where(repositories.c.node_id == row["node_id"])
                .values({name: row.get(name) for name in refreshed})
            ).rowcount
            if not changed:
                conn.execute(insert(repositories).values(row))

    # -- contributors ----------------------------------------------------------------------------
    def needing_contributors(self, run_id: int, since: datetime) -> list[tuple[str, str]]:
        """(node_id, full_name) fetched by this run whose contributors weren't counted since."""
        query = (
            select(repositories.c.node_id, repositories.c.full_name)
            .where(
                repositories.c.run_id == run_id,
                (repositories.c.contributors_at.is_(None))
                | (repositories.c.contributors_at < stored_time(since)),
            )
            .order_by(repositories.c.node_id)
        )
        with self.engine.connect() as conn:
            return [(r.node_id, r.full_name) for r in conn.execute(query).all()]

    def set_contributors(
        self, results: Sequence[tuple[str, int | None, str]], now: datetime
    ) -> None:
        with self.engine.begin() as conn:
            for node_id, count, status in results:
                conn.execute(
                    update(repositories)
                    .where(repositories.c.node_id == node_id)
                    .values(
                        contributors=count,
                        contributors_status=status,
                        contributors_at=stored_time(now),
                    )
                )

    # -- reading ---------------------------------------------------------------------------------
    def count(self, run_id: int | None = None) -> int:
        query = select(func.count()).select_from(repositories)
        if run_id is not None:
            query = query.where(repositories.c.run_id == run_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def iter_records(self, batch: int = 10_000) -> Iterator[list[RepositoryRecord]]:
        """Every repository as a record (RECORD_COLUMNS), times in UTC, in batches."""
        columns = [repositories.c[name] for name in RECORD_COLUMNS]
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(
                select(*columns).order_by(repositories.c.node_id)
            )
            while rows := result.fetchmany(batch):
                yield [cast("RepositoryRecord", _aware(dict(r._mapping))) for r in rows]

    def contributor_status_counts(self) -> dict[str, int]:
        query = select(repositories.c.contributors_status, func.count()).group_by(
            repositories.c.contributors_status
        )
        with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(query).all()}


def stored_time(moment: datetime) -> datetime:
    """Every stored time is UTC (SQLite keeps no offset, so the convention must hold there)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment} would be stored without its time zone")
    return moment.astimezone(UTC)


def read_time(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back naive)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    return {k: read_time(v) if isinstance(v, datetime) else v for k, v in row.items()}
