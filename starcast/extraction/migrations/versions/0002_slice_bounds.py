"""Slices keep their bounds (JSON), so a slice that outgrew the search cap can be split again.

A slice checkpointed before this revision has no bounds, and its query text can't give them back
exactly (a language is stored as its search slug). So a run still unfinished when the database
is upgraded is abandoned, with its slices: the next `starcast extract run` plans afresh and
refreshes the repositories already stored (nothing stored is lost). A finished run's slices
are never paged again; they get empty bounds.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_FINISHED = ("done", "abandoned")


def upgrade() -> None:
    runs = sa.table("extract_runs", sa.column("run_id", sa.Integer), sa.column("phase", sa.String))
    slices = sa.table("extract_slices", sa.column("run_id", sa.Integer))
    unfinished = sa.select(runs.c.run_id).where(runs.c.phase.not_in(_FINISHED))
    op.execute(slices.delete().where(slices.c.run_id.in_(unfinished)))
    op.execute(runs.update().where(runs.c.phase.not_in(_FINISHED)).values(phase="abandoned"))
    with op.batch_alter_table("extract_slices") as batch:
        batch.add_column(sa.Column("bounds", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("extract_slices") as batch:
        batch.alter_column("bounds", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("extract_slices") as batch:
        batch.drop_column("bounds")
