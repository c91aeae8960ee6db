"""A real S3-compatible server on loopback (moto's server mode) for artifact and dataset tests.

The server speaks the S3 REST protocol over HTTP, so s3fs and botocore run their real code paths;
only the storage behind it is in memory.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Final

import boto3
import pytest
import s3fs
from moto.server import ThreadedMotoServer

REGION: Final = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the standard AWS variables point s3fs at the loopback server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "starcast-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "starcast-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    s3fs.S3FileSystem.clear_instance_cache()  # instances remember the endpoint they were made with
    bucket = f"starcast-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION).create_bucket(Bucket=bucket)
    return bucket
