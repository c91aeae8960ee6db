"""Where extracted repositories and the run's checkpoint live: any SQLAlchemy database.

Repositories are upserted by GitHub node id with the time they were fetched, so a later run adds
and refreshes rows instead of replacing the table. The checkpoint (the run, its planned slices
with their cursors, and the repositories waiting for a retry) is written in the same transaction
as the page it follows, so a run killed at any instant resumes from the last committed page and
loses at most the pages in flight. SQLite (the default, in WAL mode) and PostgreSQL use native
upserts; other dialects fall back to update-then-insert. The schema is Alembic's (`migrate.py`):
opening a store upgrades an older database in place.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
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
    and_,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

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
runs = Table(
    "extract_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("spec_key", String(64), nullable=False, index=True),
    Column("spec", Text, nullable=False),
    Column("phase", String(20), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)
slices = Table(
    "extract_slices",
    metadata,
    Column("run_id", Integer, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("query", Text, nullable=False),
    Column("bounds", Text, nullable=False, doc="the slice as JSON, to split it again"),
    Column("expected", Integer, nullable=False),
    Column("fetched", Integer, nullable=False, default=0),
    Column("cursor", Text),
    Column("done", Boolean, nullable=False, default=False),
    Column("truncated", Boolean, nullable=False, default=False),
)
pending = Table(
    "extract_pending",
    metadata,
    Column("run_id", Integer, primary_key=True),
    Column("node_id", String(64), primary_key=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("state", String(20), nullable=False, default="pending"),  # pending|failed|not_found
    Column("error", Text),
)

# Columns a refresh replaces; first_seen_at and the REST contributors columns are kept.
_REFRESHED: Final = (*(c for c in RECORD_COLUMNS if c not in {"node_id", "contributors"}),)


class Phase:
    PLANNING: Final = "planning"
    FETCHING: Final = "fetching"
    RETRYING: Final = "retrying"
    CONTRIBUTORS: Final = "contributors"
    DONE: Final = "done"
    ABANDONED: Final = "abandoned"


@dataclass(frozen=True)
class RunRow:
    run_id: int
    spec_key: str
    spec: str
    phase: str
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class SliceRow:
    position: int
    query: str
    bounds: str
    expected: int
    fetched: int
    cursor: str | None
    done: bool
    truncated: bool


@dataclass(frozen=True)
class PlannedRow:
    """A slice to save: its search text, its bounds (JSON), the count GitHub gave for it."""

    query: str
    bounds: str
    expected: int
    truncated: bool


@dataclass(frozen=True)
class PageCommit:
    """One search page, and where its slice stands after it."""

    records: Sequence[StoredRecord]
    retry_ids: Sequence[str]
    position: int
    cursor: str | None
    fetched: int
    done: bool


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


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, url: str) -> Store:
        return cls(open_engine(url))

    # -- runs ------------------------------------------------------------------------------------
    def unfinished_run(self, spec_key: str) -> RunRow | None:
        query = (
            select(runs)
            .where(runs.c.spec_key == spec_key, runs.c.phase.not_in([Phase.DONE, Phase.ABANDONED]))
            .order_by(runs.c.run_id.desc())
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _run(row._mapping) if row else None

    def create_run(self, spec_key: str, spec: str, now: datetime) -> RunRow:
        with self.engine.begin() as conn:
            # One live run per spec: a newer request replaces an unfinished one explicitly.
            conn.execute(
                update(runs)
                .where(runs.c.spec_key == spec_key, runs.c.phase.not_in([Phase.DONE]))
                .values(phase=Phase.ABANDONED)
            )
            result = conn.execute(
                insert(runs).values(
                    spec_key=spec_key, spec=spec, phase=Phase.PLANNING, started_at=_stored(now)
                )
            )
            run_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return RunRow(run_id, spec_key, spec, Phase.PLANNING, now, None)

    def set_phase(self, run_id: int, phase: str, now: datetime | None = None) -> None:
        values: dict[str, Any] = {"phase": phase}
        if phase == Phase.DONE and now is not None:
            values["finished_at"] = _stored(now)
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(**values))

    def runs(self) -> list[RunRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.run_id)).all()
        return [_run(r._mapping) for r in rows]

    # -- slices ----------------------------------------------------------------------------------
    def save_plan(self, run_id: int, planned: Sequence[PlannedRow]) -> None:
        """The slices of a run, and on to fetching."""
        with self.engine.begin() as conn:
            conn.execute(slices.delete().where(slices.c.run_id == run_id))
            self._insert_slices(conn, run_id, 0, planned)
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(phase=Phase.FETCHING))

    def replace_slice(
        self, run_id: int, position: int, planned: Sequence[PlannedRow]
    ) -> list[SliceRow]:
        """A slice that outgrew the cap since planning gives way to its parts."""
        with self.engine.begin() as conn:
            last = conn.execute(
                select(func.max(slices.c.position)).where(slices.c.run_id == run_id)
            ).scalar_one()
            conn.execute(
                slices.delete().where(slices.c.run_id == run_id, slices.c.position == position)
            )
            self._insert_slices(conn, run_id, int(last) + 1, planned)
        return [s for s in self.slices(run_id) if s.position > int(last)]

    def _insert_slices(
        self, conn: Connection, run_id: int, start: int, planned: Sequence[PlannedRow]
    ) -> None:
        if not planned:
            return
        conn.execute(
            insert(slices),
            [
                {
                    "run_id": run_id,
                    "position": start + i,
                    "query": p.query,
                    "bounds": p.bounds,
                    "expected": p.expected,
                    "fetched": 0,
                    "cursor": None,
                    "done": False,
                    "truncated": p.truncated,
                }
                for i, p in enumerate(planned)
            ],
        )

    def slices(self, run_id: int) -> list[SliceRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(slices).where(slices.c.run_id == run_id).order_by(slices.c.position)
            ).all()
        return [
            SliceRow(
                r.position,
                r.query,
                r.bounds,
                r.expected,
                r.fetched,
                r.cursor,
                bool(r.done),
                bool(r.truncated),
            )
            for r in rows
        ]

    def commit_page(self, run_id: int, page: PageCommit, now: datetime) -> None:
        """Repositories, retries and the slice's new cursor, all or nothing."""
        with self.engine.begin() as conn:
            self._upsert(conn, run_id, page.records, now)
            self._add_pending(conn, run_id, page.retry_ids)
            conn.execute(
                update(slices)
                .where(slices.c.run_id == run_id, slices.c.position == page.position)
                .values(cursor=page.cursor, fetched=page.fetched, done=page.done)
            )

    # -- retries ---------------------------------------------------------------------------------
    def pending_ids(self, run_id: int) -> list[tuple[str, int]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(pending.c.node_id, pending.c.attempts)
                .where(pending.c.run_id == run_id, pending.c.state == "pending")
                .order_by(pending.c.node_id)
            ).all()
        return [(r.node_id, r.attempts) for r in rows]

    def commit_retry(
        self,
        run_id: int,
        records: Sequence[StoredRecord],
        resolved: Sequence[str],
        retry: Sequence[tuple[str, str]],
        failed: Sequence[tuple[str, str, str]],
        now: datetime,
    ) -> None:
        """Stored repositories leave the queue; `retry` (id, error) goes round again; `failed`
        (id, state, error) stops trying."""
        with self.engine.begin() as conn:
            self._upsert(conn, run_id, records, now)
            for node_id in resolved:
                conn.execute(
                    pending.delete().where(pending.c.run_id == run_id, pending.c.node_id == node_id)
                )
            for node_id, error in retry:
                conn.execute(
                    update(pending)
                    .where(pending.c.run_id == run_id, pending.c.node_id == node_id)
                    .values(attempts=pending.c.attempts + 1, error=error)
                )
            for node_id, state, error in failed:
                conn.execute(
                    update(pending)
                    .where(pending.c.run_id == run_id, pending.c.node_id == node_id)
                    .values(attempts=pending.c.attempts + 1, state=state, error=error)
                )

    def failures(self, run_id: int) -> list[tuple[str, str, str | None]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(pending.c.node_id, pending.c.state, pending.c.error).where(
                    pending.c.run_id == run_id, pending.c.state != "pending"
                )
            ).all()
        return [(r.node_id, r.state, r.error) for r in rows]

    # -- contributors ----------------------------------------------------------------------------
    def needing_contributors(self, run_id: int, since: datetime) -> list[tuple[str, str]]:
        """(node_id, full_name) fetched by this run whose contributors weren't counted since."""
        query = (
            select(repositories.c.node_id, repositories.c.full_name)
            .where(
                repositories.c.run_id == run_id,
                (repositories.c.contributors_at.is_(None))
                | (repositories.c.contributors_at < _stored(since)),
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
                        contributors=count, contributors_status=status, contributors_at=_stored(now)
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

    # -- internals -------------------------------------------------------------------------------
    def _upsert(
        self, conn: Connection, run_id: int, records: Sequence[StoredRecord], now: datetime
    ) -> None:
        if not records:
            return
        rows = [
            {
                **{k: _stored(v) if isinstance(v, datetime) else v for k, v in r.items()},
                "run_id": run_id,
                "first_seen_at": _stored(now),
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

    def _add_pending(self, conn: Connection, run_id: int, node_ids: Sequence[str]) -> None:
        for node_id in dict.fromkeys(node_ids):
            exists = conn.execute(
                select(pending.c.node_id).where(
                    and_(pending.c.run_id == run_id, pending.c.node_id == node_id)
                )
            ).first()
            if exists is None:
                conn.execute(
                    insert(pending).values(
                        run_id=run_id, node_id=node_id, attempts=0, state="pending"
                    )
                )


def spec_json(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, default=str)


def _run(row: RowMapping) -> RunRow:
    return RunRow(
        row["run_id"],
        row["spec_key"],
        row["spec"],
        row["phase"],
        _utc(row["started_at"]),
        _utc(row["finished_at"]) if row["finished_at"] is not None else None,
    )


def _stored(moment: datetime) -> datetime:
    """Every stored time is UTC (SQLite keeps no offset, so the convention must hold there)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment} would be stored without its time zone")
    return moment.astimezone(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _utc(v) if isinstance(v, datetime) else v for k, v in row.items()}
