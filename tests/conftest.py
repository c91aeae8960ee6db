"""Fixtures every test directory can use; component fixtures live in tests/support/."""

import logging
from collections.abc import Iterator

import pytest

from tests.support.s3 import s3_bucket, s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Drop root handlers a test left behind (pytest's own come and go by themselves).

    A CLI run in-process configures the root logger on a stream that closes with the run; a
    handler left on it breaks logging in every later test.
    """
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    root.handlers[:] = [
        handler
        for handler in root.handlers
        if handler in before or type(handler).__module__.startswith("_pytest")
    ]
    root.setLevel(level)
