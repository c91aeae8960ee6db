"""A real RabbitMQ for the tests: Debian's rabbitmq-server as a private node on free ports.

One node per test session (own name, ports, epmd, data and log directories under pytest's tmp),
stopped at the end by the pids started here. Tests may stop and start it mid-test (the
broker-restart test): `broker_url` makes sure the next test finds it running again.
It fails, never skips, when rabbitmq-server is not installed: the suite needs the real thing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from starcast.up.rabbitmq import INSTALL_HINT, RabbitMQError, RabbitMQServer, find_rabbitmq_server


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQServer]:
    if find_rabbitmq_server() is None:
        pytest.fail(f"rabbitmq-server is not installed; {INSTALL_HINT}", pytrace=False)
    try:
        server = RabbitMQServer(
            tmp_path_factory.mktemp("rabbitmq"), node_name=f"starcast-test-{os.getpid()}"
        )
        server.start()
    except RabbitMQError as error:
        pytest.fail(f"could not start RabbitMQ for the tests: {error}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def broker_url(rabbitmq: RabbitMQServer) -> str:
    """The session broker's URL, started again first if an earlier test left it stopped."""
    if not rabbitmq.running:
        rabbitmq.start()
    return rabbitmq.url
