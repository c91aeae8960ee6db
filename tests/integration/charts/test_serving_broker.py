"""The chart's in-release RabbitMQ, wired as rendered: its user is the one the clients log in as.

The StatefulSet's container runs the official image's entrypoint, which can't run on a kwok
node; Debian's rabbitmq-server stands for it here, with the container's env as the API server
stored it (RABBITMQ_DEFAULT_USER, and RABBITMQ_DEFAULT_PASS from the generated Secret; RabbitMQ
itself reads both since 3.9.4). The frontend and the workers get the broker URL from that
Secret's `url`: it must log in to that node, and the guest user must not exist.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from kombu.connection import Connection

from starcast.up.rabbitmq import RabbitMQServer, find_rabbitmq_server
from tests.support.charts import SERVING_CHART, ClusterObjects, local_container, restrict_namespace
from tests.support.kube import KubePlane

pytestmark = [pytest.mark.kube, pytest.mark.integration]

RELEASE = "serving"
RABBITMQ = f"{RELEASE}-starcast-serving-rabbitmq"


class RenderedRabbitMQ(RabbitMQServer):
    """A private RabbitMQ node with the chart container's own env on top of the node's."""

    def __init__(self, base_dir: Path, container_env: dict[str, str], client_url: str) -> None:
        self._container_env = container_env
        self._client_url = client_url
        super().__init__(base_dir, node_name=f"chart-{base_dir.name[-12:]}")

    def _environment(self) -> dict[str, str]:
        return {**super()._environment(), **self._container_env}

    @property
    def url(self) -> str:
        """The clients' URL from the chart's Secret, its host and port made this node's."""
        parts = urlsplit(self._client_url)
        netloc = f"{parts.netloc.rpartition('@')[0]}@127.0.0.1:{self.ports.amqp}"
        return urlunsplit(parts._replace(netloc=netloc))


def _logs_in(url: str) -> bool:
    connection = Connection(url, connect_timeout=5)  # type: ignore[no-untyped-call]
    try:
        connection.connect()  # type: ignore[no-untyped-call]
        return True
    # A refused login is AMQP's ACCESS_REFUSED, one of the channel errors.
    except (OSError, *connection.connection_errors, *connection.channel_errors):
        return False
    finally:
        connection.release()  # type: ignore[no-untyped-call]


def test_the_clients_url_logs_in_to_rabbitmq_as_rendered(
    kube_plane: KubePlane, kube_namespace: str, tmp_path: Path
) -> None:
    if find_rabbitmq_server() is None:
        pytest.fail("rabbitmq-server is not installed (make system-deps)", pytrace=False)
    ns = kube_namespace
    restrict_namespace(kube_plane, ns)
    kube_plane.helm(
        "install", RELEASE, str(SERVING_CHART), "-n", ns, "--wait", "--timeout=180s",
        "--set", "rabbitmq.persistence.enabled=false",
    )  # fmt: skip
    kube_plane.kubectl("rollout", "status", f"statefulset/{RABBITMQ}", "-n", ns, "--timeout=120s")
    objects = ClusterObjects(kube_plane, ns)
    statefulset = kube_plane.kubectl_json("get", "statefulset", RABBITMQ, "-n", ns)
    pod_spec = statefulset["spec"]["template"]["spec"]
    broker = local_container(pod_spec, "rabbitmq", objects, tmp_path / "rabbitmq-volumes",
                             image_command=["rabbitmq-server"])  # fmt: skip
    own_env = {e["name"] for e in broker.container["env"]}
    assert own_env == {"RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS"}
    worker_template = kube_plane.kubectl_json(
        "get", "deployment", f"{RELEASE}-starcast-serving-worker", "-n", ns
    )["spec"]["template"]["spec"]
    client_url = local_container(
        worker_template, "worker", objects, tmp_path / "worker-volumes"
    ).env["STARCAST_BROKER_URL"]
    assert urlsplit(client_url).hostname == f"{RABBITMQ}.{ns}.svc"

    node = RenderedRabbitMQ(
        tmp_path / "node", {k: v for k, v in broker.env.items() if k in own_env}, client_url
    )
    try:
        node.start()  # waits until the clients' URL logs in, or fails saying why
        assert _logs_in(node.url)
        assert not _logs_in(f"amqp://guest:guest@127.0.0.1:{node.ports.amqp}//")
    finally:
        node.close()
