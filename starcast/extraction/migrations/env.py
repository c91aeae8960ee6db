"""Alembic's environment for the extractor's database: run on the connection `upgrade` passes."""

from __future__ import annotations

from alembic import context

from starcast.extraction import checkpoint  # noqa: F401  (its tables join `metadata` on import)
from starcast.extraction.repositories import metadata

connection = context.config.attributes["connection"]
# Batch mode: SQLite alters a table by copying it, which alembic does only in batch operations.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
