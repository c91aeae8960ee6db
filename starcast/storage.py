"""Object storage through fsspec: `file://` paths and `s3://` buckets (any S3-compatible server).

S3 credentials and the endpoint come from the standard AWS variables (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL), which s3fs reads itself; nothing here stores them. A
caller that holds credentials of its own (the operator, from a run's Secret) passes them as
fsspec `options` (for s3: key, secret, endpoint_url, client_kwargs).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem


def filesystem(
    uri: str, options: Mapping[str, Any] | None = None
) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem for `uri` (with fsspec storage `options`) and the path inside it."""
    fs, path = fsspec.core.url_to_fs(uri, **(options or {}))
    return fs, path


def join(uri: str, name: str) -> str:
    return f"{uri.rstrip('/')}/{name}"


def read_bytes(uri: str, options: Mapping[str, Any] | None = None) -> bytes:
    fs, path = filesystem(uri, options)
    data: bytes = fs.cat_file(path)
    return data


def exists(uri: str, options: Mapping[str, Any] | None = None) -> bool:
    fs, path = filesystem(uri, options)
    return bool(fs.exists(path))


def write_bytes_atomic(uri: str, data: bytes) -> None:
    """Write so that a reader sees the old object, or none, or all of the new one.

    An S3 PUT is atomic by itself; a local file is written beside its target and renamed.
    """
    fs, path = filesystem(uri)
    if isinstance(fs, LocalFileSystem):
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
        try:
            with partial.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return
    fs.pipe_file(path, data)


def remove(uri: str) -> None:
    fs, path = filesystem(uri)
    if fs.exists(path):
        fs.rm_file(path)
