"""`starcast extract export`: the database as the Parquet dataset the trainer reads.

Exactly `RECORD_COLUMNS`, one row per repository, so `starcast.dataset.read_dataset` takes it as
a starcast record table with nothing dropped; written atomically to any fsspec URI.
"""

from __future__ import annotations

import io
import logging

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from starcast import storage
from starcast.extraction.repositories import RepositoryTable
from starcast.features import FEATURES_BY_NAME, RECORD_COLUMNS, FeatureKind

logger = logging.getLogger(__name__)


class ExportError(ValueError):
    """Nothing to export, or nowhere to write it."""


def _schema() -> pa.Schema:
    fields = []
    for name in RECORD_COLUMNS:
        if name in {"node_id", "full_name"}:
            fields.append(pa.field(name, pa.string(), nullable=False))
        elif name in {"snapshot_at", "created_at", "pushed_at"}:
            fields.append(pa.field(name, pa.timestamp("us", tz="UTC")))
        elif name == "stars":
            fields.append(pa.field(name, pa.int64(), nullable=False))
        elif FEATURES_BY_NAME[name].kind == FeatureKind.BOOLEAN:
            fields.append(pa.field(name, pa.bool_()))
        elif FEATURES_BY_NAME[name].kind == FeatureKind.CATEGORICAL:
            fields.append(pa.field(name, pa.string()))
        else:
            fields.append(pa.field(name, pa.int64()))
    return pa.schema(fields)


RECORD_SCHEMA = _schema()


def export_parquet(repositories: RepositoryTable, uri: str) -> int:
    """Write every stored repository to `uri`; the number of rows written."""
    tables = [
        pa.Table.from_pandas(
            pd.DataFrame(batch, columns=list(RECORD_COLUMNS)),
            schema=RECORD_SCHEMA,
            preserve_index=False,
        )
        for batch in repositories.iter_records()
    ]
    if not tables:
        raise ExportError("the database holds no repository yet: run `starcast extract run` first")
    table = pa.concat_tables(tables)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    storage.write_bytes_atomic(uri, buffer.getvalue())
    logger.info("exported %d repositories to %s", table.num_rows, uri)
    return int(table.num_rows)
