"""The run's checkpoint: the run, its planned slices with their cursors, and its retries.

It is written in the same transaction as the page of repositories it follows (into the
`RepositoryTable` it was opened on), so a run killed at any instant resumes from the last
committed page and loses at most the pages in flight. Its tables join the repository table's
schema (`repositories.metadata`) and are upgraded by the same Alembic migrations.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, RowMapping

from starcast.extraction.records import StoredRecord
from starcast.extraction.repositories import RepositoryTable, metadata, read_time, stored_time

logger = logging.getLogger(__name__)

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


class Checkpoint:
    """The checkpoint of the runs that write into `repositories`."""

    def __init__(self, repositories: RepositoryTable) -> None:
        self.repositories = repositories

    @classmethod
    def connect(cls, url: str) -> Checkpoint:
        return cls(RepositoryTable.connect(url))

    @property
    def engine(self) -> Engine:
        return self.repositories.engine

    def close(self) -> None:
        self.repositories.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

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
                    spec_key=spec_key, spec=spec, phase=Phase.PLANNING, started_at=stored_time(now)
                )
            )
            run_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return RunRow(run_id, spec_key, spec, Phase.PLANNING, now, None)

    def set_phase(self, run_id: int, phase: str, now: datetime | None = None) -> None:
        values: dict[str, Any] = {"phase": phase}
        if phase == Phase.DONE and now is not None:
            values["finished_at"] = stored_time(now)
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
            self.repositories.upsert(conn, run_id, page.records, now)
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
            self.repositories.upsert(conn, run_id, records, now)
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

    # -- internals -------------------------------------------------------------------------------
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
        read_time(row["started_at"]),
        read_time(row["finished_at"]) if row["finished_at"] is not None else None,
    )
