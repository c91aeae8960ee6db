"""The extractor's schema, upgraded in place by Alembic (`migrations/`) whenever it opens.

A database made before migrations existed (by `create_all`, no `alembic_version` table) is
recognised by its tables, stamped with the revision its columns match, then upgraded like any
other. A new schema change is a new revision in `migrations/versions/`; a test keeps the head
revision equal to `repositories.metadata` (the checkpoint's tables included), so a change without
its migration fails.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

logger = logging.getLogger(__name__)

MIGRATIONS: Final = Path(__file__).with_name("migrations")
BEFORE_MIGRATIONS: Final = "0001"  # the schema the first extractor made with create_all
SLICE_BOUNDS: Final = "0002"


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database at `engine` to the head revision, in one transaction."""
    with engine.begin() as connection:
        config = alembic_config(connection)
        head = ScriptDirectory.from_config(config).get_current_head()
        legacy = _legacy_revision(connection)
        if legacy is not None:
            logger.info("database made before migrations (revision %s): upgrading it", legacy)
            command.stamp(config, legacy)
        elif MigrationContext.configure(connection).get_current_revision() == head:
            return
        command.upgrade(config, "head")
        logger.info("database schema upgraded to revision %s", head)


def _legacy_revision(connection: Connection) -> str | None:
    """The revision of a database create_all made, or None (new, or already versioned)."""
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables or "extract_slices" not in tables:
        return None
    columns = {column["name"] for column in inspect(connection).get_columns("extract_slices")}
    return SLICE_BOUNDS if "bounds" in columns else BEFORE_MIGRATIONS
