"""The cluster from Kubernetes' side: the API server answering, then every node Ready."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starcast.bootstrap.progress import Progress, poll

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeState:
    name: str
    ready: bool


def _api(kubeconfig: Path, context: str) -> Any:
    from kubernetes import client, config

    api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), context=context
    )
    api_client.configuration.retries = 0  # our poll is the retry; urllib3's would triple each wait
    return api_client, client


def node_states(kubeconfig: Path, context: str) -> list[NodeState] | None:
    """Every registered node and whether it is Ready; None when the API can't be reached."""
    from urllib3.exceptions import HTTPError

    api_client, client = _api(kubeconfig, context)
    try:
        listed = client.CoreV1Api(api_client).list_node(_request_timeout=10)
    except (HTTPError, OSError, client.ApiException) as error:
        logger.debug("api not ready", extra={"error": str(error)})
        return None
    finally:
        api_client.close()
    states = []
    for node in listed.items:
        conditions = {c.type: c.status for c in (node.status.conditions or [])}
        states.append(NodeState(node.metadata.name, conditions.get("Ready") == "True"))
    return states


def wait_api(
    kubeconfig: Path, context: str, timeout: float, progress: Progress, interval: float
) -> None:
    from urllib3.exceptions import HTTPError

    def answers() -> bool | None:
        api_client, client = _api(kubeconfig, context)
        try:
            client.VersionApi(api_client).get_code(_request_timeout=10)
        except (HTTPError, OSError, client.ApiException):
            return None
        finally:
            api_client.close()
        return True

    with progress.waiting("the k3s API server", timeout):
        poll(
            "the k3s API server",
            answers,
            timeout,
            "check admin_cidrs let you reach port 6443 and the server's console log",
            interval,
        )


def wait_ready(
    kubeconfig: Path,
    context: str,
    expected: list[str],
    timeout: float,
    progress: Progress,
    interval: float,
) -> list[NodeState]:
    """Wait until each of `expected` is registered and Ready, reporting each as it gets there."""
    reported: set[str] = set()

    def all_ready() -> list[NodeState] | None:
        states = node_states(kubeconfig, context) or []
        ready = {s.name for s in states if s.ready}
        for name in sorted((ready & set(expected)) - reported):
            progress.resource("ready", "node", name)
            reported.add(name)
        return states if set(expected) <= ready else None

    def missing() -> str:
        return ", ".join(sorted(set(expected) - reported)) or "none"

    with progress.waiting(f"{len(expected)} node(s) Ready", timeout):
        try:
            return poll("the nodes", all_ready, timeout, "", interval)
        except Exception as error:
            from starcast.bootstrap.cloud import CloudError

            raise CloudError(
                f"nodes not Ready after {timeout:.0f}s: {missing()}. Look at their console logs "
                "(`openstack console log show`) and `journalctl -u k3s-agent` on them"
            ) from error
