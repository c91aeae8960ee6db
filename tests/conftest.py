"""Fixtures every test directory can use; component fixtures live in tests/support/."""

from tests.support.s3 import s3_bucket, s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]
