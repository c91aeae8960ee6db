"""The schema of the first starcast extractor, made by `create_all` before migrations existed.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extract_pending",
        sa.Column("run_id", sa.Integer(), primary_key=True),
        sa.Column("node_id", sa.String(length=64), primary_key=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text()),
    )
    op.create_table(
        "extract_runs",
        sa.Column("run_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("spec_key", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_extract_runs_spec_key", "extract_runs", ["spec_key"])
    op.create_table(
        "extract_slices",
        sa.Column("run_id", sa.Integer(), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Text()),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "repositories",
        sa.Column("node_id", sa.String(length=64), primary_key=True),
        sa.Column("full_name", sa.String(length=300), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True)),
        sa.Column("forks", sa.BigInteger()),
        sa.Column("watchers", sa.BigInteger()),
        sa.Column("open_issues", sa.BigInteger()),
        sa.Column("closed_issues", sa.BigInteger()),
        sa.Column("open_pull_requests", sa.BigInteger()),
        sa.Column("closed_pull_requests", sa.BigInteger()),
        sa.Column("merged_pull_requests", sa.BigInteger()),
        sa.Column("commits_total", sa.BigInteger()),
        sa.Column("commits_last_year", sa.BigInteger()),
        sa.Column("contributors", sa.BigInteger()),
        sa.Column("branches", sa.BigInteger()),
        sa.Column("tags", sa.BigInteger()),
        sa.Column("releases", sa.BigInteger()),
        sa.Column("labels", sa.BigInteger()),
        sa.Column("mentionable_users", sa.BigInteger()),
        sa.Column("disk_usage_kb", sa.BigInteger()),
        sa.Column("readme_size_bytes", sa.BigInteger()),
        sa.Column("owner_followers", sa.BigInteger()),
        sa.Column("owner_repositories", sa.BigInteger()),
        sa.Column("topics", sa.BigInteger()),
        sa.Column("owner_is_organization", sa.Boolean()),
        sa.Column("has_pages", sa.Boolean()),
        sa.Column("has_wiki", sa.Boolean()),
        sa.Column("is_fork", sa.Boolean()),
        sa.Column("is_archived", sa.Boolean()),
        sa.Column("primary_language", sa.String(length=100)),
        sa.Column("license", sa.String(length=100)),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("unknown_fields", sa.Text()),
        sa.Column("contributors_status", sa.String(length=20)),
        sa.Column("contributors_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_repositories_full_name", "repositories", ["full_name"])


def downgrade() -> None:
    for table in ("repositories", "extract_slices", "extract_runs", "extract_pending"):
        op.drop_table(table)
