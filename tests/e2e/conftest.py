"""The user stories on the plane's real node: the charts' own pods, from images built here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.real_node import RealCluster, build_at_collection_finish, real_cluster_running


def pytest_collection_finish(session: pytest.Session) -> None:
    build_at_collection_finish(session)


@pytest.fixture(scope="package")
def real_cluster(pytestconfig: pytest.Config) -> Iterator[RealCluster]:
    """A plane with a real node, for this package only (it is stopped before the other tests)."""
    with real_cluster_running(pytestconfig) as cluster:
        yield cluster
